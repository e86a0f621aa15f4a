{#- Every value of `column` in `relation` is the name of a column of the model; returns the values that are not. -#}
{% test columns_named_in(model, relation, column) %}
select {{ column }} as missing_column
from {{ relation }}
where {{ column }} not in (
    select column_name from information_schema.columns
    where table_catalog = '{{ model.database }}' and table_schema = '{{ model.schema }}'
        and table_name = '{{ model.identifier }}'
)
{% endtest %}
