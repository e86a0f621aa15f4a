{{ config(meta={"gate": "C-GS-4"}) }}
-- depends_on: {{ ref("gstar") }}
{#- g* must be derived from branching metrics only: fail if the selection models mention any
    task-performance column (accuracy, loss, nll, perplexity, ...). -#}
{%- set forbidden = ['accuracy', 'loss', 'nll', 'ppl', 'perplexity', 'logprob', 'n_questions'] -%}
{%- set selection_models = ['int_grid_metrics_restricted', 'gstar'] -%}
{%- set hits = [] -%}
{%- if execute -%}
    {%- for node in graph.nodes.values() if node.resource_type == 'model' and node.name in selection_models -%}
        {%- for word in forbidden -%}
            {%- if modules.re.search('\\b' ~ word ~ '\\b', node.raw_code | lower) -%}
                {%- do hits.append(node.name ~ ':' ~ word) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif %}

{% for hit in hits %}
select '{{ hit }}' as hit union all
{% endfor %}
select null as hit where false
