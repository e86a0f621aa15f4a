{% macro input_var(name) -%}
    {#- A run input, the one way both pipelines' inputs reach dbt. The CLI checks its inputs, then passes
        them as environment variables GATEHOUSE_<NAME> (so --vars stay the same from run to run and dbt
        keeps its partial parse: it re-parses only the files whose env vars changed); a user of plain dbt
        passes --vars. A list var (model_roles, sites_seeds) is comma-separated in the environment; its
        integer items become integers, anything else stays text for check_vars to refuse by name. -#}
    {%- set value = env_var('GATEHOUSE_' ~ (name | upper), '') -%}
    {%- set default = var(name) -%}
    {%- if value == '' -%}
        {{ return(default) }}
    {%- elif default is iterable and default is not string and default is not mapping -%}
        {%- set items = [] -%}
        {%- for item in value.split(',') -%}
            {%- do items.append(item | int if item.strip().isdigit() else item) -%}
        {%- endfor -%}
        {{ return(items) }}
    {%- elif default is integer and value.strip().isdigit() -%}
        {{ return(value | int) }}
    {%- else -%}
        {{ return(value) }}
    {%- endif -%}
{%- endmacro %}
