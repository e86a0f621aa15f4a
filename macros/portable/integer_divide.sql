{% macro integer_divide(dividend, divisor) -%}
    {#- Integer quotient of two integers, rounded toward zero for non-negative operands. -#}
    {{ return(adapter.dispatch('integer_divide', 'gatehouse')(dividend, divisor)) }}
{%- endmacro %}

{% macro default__integer_divide(dividend, divisor) -%}
    {{ dividend }} // {{ divisor }}
{%- endmacro %}

{% macro spark__integer_divide(dividend, divisor) -%}
    {{ dividend }} div {{ divisor }}
{%- endmacro %}
