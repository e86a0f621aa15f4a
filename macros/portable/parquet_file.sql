{% macro parquet_file(path) -%}
    {#- A parquet file (or glob) as a relation in FROM. -#}
    {{ return(adapter.dispatch('parquet_file', 'gatehouse')(path)) }}
{%- endmacro %}

{% macro default__parquet_file(path) -%}
    read_parquet({{ sql_string(path) }})
{%- endmacro %}

{% macro spark__parquet_file(path) -%}
    parquet.`{{ path | replace('`', '``') }}`
{%- endmacro %}
