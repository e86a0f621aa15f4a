{#- Aggregate SQL expressions for concentration metrics, usable in any select with group by.
    Definitions: docs block `realism_metrics` in models/sites/_sites__docs.md. Python callers use the one
    numpy twin, gatehouse.sites.kernels.outlet_metrics.gini / top_share (checked against these in its tests). -#}

{% macro gini(column) -%}
    {#- G = sum_i (2i - n - 1) x_i / (n sum x), x sorted ascending, i = 1..n; 0 when n = 0 or sum = 0. -#}
    {{ return(adapter.dispatch('gini', 'gatehouse')(column)) }}
{%- endmacro %}

{% macro default__gini(column) -%}
    coalesce(
        list_sum(list_transform(list_sort(list({{ column }})),
            (x, i) -> (2 * i - count({{ column }}) - 1) * x::double))
        / nullif(count({{ column }}) * sum({{ column }})::double, 0),
        0.0)
{%- endmacro %}

{% macro spark__gini(column) -%}
    {#- transform's index is 0-based; n is the list's size (no aggregate inside a lambda), and the lambda
        variables are named so they cannot hide a column of the same name -#}
    coalesce(
        aggregate(transform(array_sort(collect_list({{ column }})),
            (sorted_value, position) -> (2 * (position + 1) - size(collect_list({{ column }})) - 1)
                * cast(sorted_value as double)),
            cast(0 as double), (total, term) -> total + term)
        / nullif(count({{ column }}) * cast(sum({{ column }}) as double), 0),
        0.0)
{%- endmacro %}

{% macro top_share(column, fraction) -%}
    {#- Share of the total held by the k largest values, k = max(1, ceil(fraction * n)). -#}
    {{ return(adapter.dispatch('top_share', 'gatehouse')(column, fraction)) }}
{%- endmacro %}

{% macro default__top_share(column, fraction) -%}
    coalesce(
        list_sum(list_slice(list_sort(list({{ column }}), 'DESC'), 1,
            greatest(1, ceil({{ fraction }} * count({{ column }})))::bigint))::double
        / nullif(sum({{ column }})::double, 0),
        0.0)
{%- endmacro %}

{% macro spark__top_share(column, fraction) -%}
    coalesce(
        aggregate(slice(reverse(array_sort(collect_list({{ column }}))), 1,
            cast(greatest(1, ceil({{ fraction }} * count({{ column }}))) as integer)),
            cast(0 as double), (total, top_value) -> total + cast(top_value as double))
        / nullif(cast(sum({{ column }}) as double), 0),
        0.0)
{%- endmacro %}

{% macro coefficient_of_variation(column) -%}
    {#- Population standard deviation over mean (CV across seeds); null when the mean is 0. -#}
    stddev_pop({{ column }}) / nullif(abs(avg({{ column }})), 0)
{%- endmacro %}
