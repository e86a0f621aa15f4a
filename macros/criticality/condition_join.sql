{% macro same_condition_and_sequence(left, right) -%}
    {#- Join predicate: the same condition (model_role, spike_def_id, target_rate, gain) and seq_id. -#}
    {%- for key in ['model_role', 'spike_def_id', 'target_rate', 'gain', 'seq_id'] -%}
        {{ right }}.{{ key }} = {{ left }}.{{ key }}{% if not loop.last %} and {% endif %}
    {%- endfor -%}
{%- endmacro %}
