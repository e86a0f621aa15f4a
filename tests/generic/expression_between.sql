{#- The core of every threshold gate: evaluate `expression` (row-level, or an aggregate when
    `group_by` is given or the expression aggregates) and return the rows where it is null or
    outside [min_value, max_value]. values_between wraps it for one column. -#}
{% test expression_between(model, expression, min_value=none, max_value=none, row_condition=none, group_by=none) %}
{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("expression_between needs min_value or max_value") }}
{%- endif %}
with evaluated as (
    select
        {% for column in group_by or [] %}{{ column }}, {% endfor %}
        {{ expression }} as expression_value
    from {{ model }}
    {% if row_condition %}where {{ row_condition }}{% endif %}
    {% if group_by %}group by {{ group_by | join(', ') }}{% endif %}
)

select *
from evaluated
where expression_value is null
    or isnan(expression_value::double)
    {% if min_value is not none %}or expression_value < {{ min_value }}{% endif %}
    {% if max_value is not none %}or expression_value > {{ max_value }}{% endif %}
{% endtest %}
