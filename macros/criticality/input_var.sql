{% macro input_var(name) -%}
    {#- A Phase 2 run input. The CLI passes its inputs as environment variables GATEHOUSE_<NAME>
        (so --vars stay the same from run to run and dbt keeps its partial parse: it re-parses only
        the files whose env vars changed); a user passes --vars. model_roles is comma-separated in
        the environment. -#}
    {%- set value = env_var('GATEHOUSE_' ~ (name | upper), '') -%}
    {%- if value == '' -%}
        {{ return(var(name)) }}
    {%- elif name == 'model_roles' -%}
        {{ return(value.split(',')) }}
    {%- else -%}
        {{ return(value) }}
    {%- endif -%}
{%- endmacro %}
