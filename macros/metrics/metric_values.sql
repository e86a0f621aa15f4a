{% macro metric_values(relation, key='seed') -%}
    {#- Every column of `relation` but `key` as rows (key, metric, metric_value double), nulls kept. The
        registry (seed realism_metrics) picks the metrics it grades by name, so a new metric needs no list here. -#}
    {{ return(adapter.dispatch('metric_values', 'gatehouse')(relation, key)) }}
{%- endmacro %}

{% macro default__metric_values(relation, key) -%}
    (
        select *
        from (select {{ key }}, columns(* exclude ({{ key }}))::double from {{ relation }})
        unpivot include nulls (metric_value for metric in (columns(* exclude ({{ key }}))))
    )
{%- endmacro %}

{% macro spark__metric_values(relation, key) -%}
    {#- Spark's UNPIVOT needs the column list written out; the row as a JSON object does not, whatever
        the relation (a table, a CTE, a unit-test fixture). Doubles go through Java's round-trip text,
        so they come back exactly; booleans as 1.0 / 0.0, like DuckDB's cast. -#}
    (
        select
            {{ key }},
            metric,
            case metric_text when 'true' then 1.0D when 'false' then 0.0D else cast(metric_text as double) end
                as metric_value
        from (
            select
                {{ key }},
                explode(from_json(to_json(struct(*), map('ignoreNullFields', 'false')), 'map<string, string>'))
                    as (metric, metric_text)
            from {{ relation }}
        ) as fields
        where metric <> '{{ key }}'
    )
{%- endmacro %}
