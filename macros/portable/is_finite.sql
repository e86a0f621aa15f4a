{% macro is_finite(value) -%}
    {#- True for a finite double, false for NaN and ±inf, null for null. -#}
    {{ return(adapter.dispatch('is_finite', 'gatehouse')(value)) }}
{%- endmacro %}

{% macro default__is_finite(value) -%}
    isfinite({{ value }})
{%- endmacro %}

{% macro spark__is_finite(value) -%}
    (not isnan({{ value }}) and abs({{ value }}) <> cast('Infinity' as double))
{%- endmacro %}
