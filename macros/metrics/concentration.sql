{#- Aggregate SQL expressions for concentration metrics, usable in any select with group by.
    Definitions: docs block `realism_metrics` in models/sites/_sites__docs.md. Python callers use the one
    numpy twin, gatehouse.sites.outlet_metrics.gini / top_share (checked against these in its tests). -#}

{% macro gini(column) -%}
    {#- G = sum_i (2i - n - 1) x_i / (n sum x), x sorted ascending, i = 1..n; 0 when n = 0 or sum = 0. -#}
    coalesce(
        list_sum(list_transform(list_sort(list({{ column }})),
            (x, i) -> (2 * i - count({{ column }}) - 1) * x::double))
        / nullif(count({{ column }}) * sum({{ column }})::double, 0),
        0.0)
{%- endmacro %}

{% macro top_share(column, fraction) -%}
    {#- Share of the total held by the k largest values, k = max(1, ceil(fraction * n)). -#}
    coalesce(
        list_sum(list_slice(list_sort(list({{ column }}), 'DESC'), 1,
            greatest(1, ceil({{ fraction }} * count({{ column }})))::bigint))::double
        / nullif(sum({{ column }})::double, 0),
        0.0)
{%- endmacro %}

{% macro coefficient_of_variation(column) -%}
    {#- Population standard deviation over mean (CV across seeds); null when the mean is 0. -#}
    stddev_pop({{ column }}) / nullif(abs(avg({{ column }})), 0)
{%- endmacro %}
