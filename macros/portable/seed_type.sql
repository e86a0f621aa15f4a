{% macro seed_type() -%}
    {#- SQL type of a 1B seed, an unsigned 64-bit integer (vars check_vars: [0, 2^64)). -#}
    {{ return(adapter.dispatch('seed_type', 'gatehouse')()) }}
{%- endmacro %}

{% macro default__seed_type() -%}
    ubigint
{%- endmacro %}

{% macro spark__seed_type() -%}
    {#- Spark has no unsigned bigint; decimal(20, 0) holds every value of [0, 2^64) exactly. -#}
    decimal(20, 0)
{%- endmacro %}
