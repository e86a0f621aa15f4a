{#- Completeness gate: every row of `expected` (any SQL select, typically a cross join of seeds)
    appears in the model on the given columns. Returns the missing combinations. -#}
{% test covers_combinations(model, columns, expected) %}
with expected as ({{ expected }}),
actual as (select distinct {{ columns | join(', ') }} from {{ model }})

select * from expected
except
select * from actual
{% endtest %}
