{#- Every value of `column` in `relation` is the name of a column of the model; returns the values that are not.
    The model's columns come from the adapter (any engine), read when the test runs. -#}
{% test columns_named_in(model, relation, column) %}
{%- set names = [] -%}
{%- if execute -%}
    {%- for model_column in adapter.get_columns_in_relation(model) -%}
        {%- do names.append(model_column.name) -%}
    {%- endfor -%}
{%- endif %}
select {{ column }} as missing_column
from {{ relation }}
where {% if names %}{{ column }} not in ({% for name in names %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor %}){% else %}true{% endif %}
{% endtest %}
