{% macro continuous_quantiles(column, quantiles) -%}
    {#- Aggregate: the list of linearly interpolated quantiles (numpy 'linear') of `column` at each
        fraction of `quantiles`, in one pass; read item i (1-based) with list_item. -#}
    {{ return(adapter.dispatch('continuous_quantiles', 'gatehouse')(column, quantiles)) }}
{%- endmacro %}

{% macro default__continuous_quantiles(column, quantiles) -%}
    quantile_cont({{ column }}, [{{ quantiles | join(', ') }}])
{%- endmacro %}

{% macro spark__continuous_quantiles(column, quantiles) -%}
    percentile({{ column }}, array({{ quantiles | join(', ') }}))
{%- endmacro %}
