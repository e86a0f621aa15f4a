{% macro metric_values(relation, key='seed') -%}
    {#- Every column of `relation` but `key` as rows (key, metric, metric_value double), nulls kept. The
        registry (seed realism_metrics) picks the metrics it grades by name, so a new metric needs no list here. -#}
    (
        select *
        from (select {{ key }}, columns(* exclude ({{ key }}))::double from {{ relation }})
        unpivot include nulls (metric_value for metric in (columns(* exclude ({{ key }}))))
    )
{%- endmacro %}
