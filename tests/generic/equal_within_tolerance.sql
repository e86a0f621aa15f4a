{#- Golden-data gate: the model's `value_columns` equal those of `compare_model` joined on
    `key_columns`, within `precision` (absolute). Missing or extra keys fail too. -#}
{% test equal_within_tolerance(model, compare_model, key_columns, value_columns, precision=1e-9) %}
with actual as (select * from {{ model }}),
expected as (select * from {{ compare_model }})

select
    {% for key in key_columns %}coalesce(actual.{{ key }}, expected.{{ key }}) as {{ key }}, {% endfor %}
    {% for value in value_columns %}actual.{{ value }} as actual_{{ value }}, expected.{{ value }} as expected_{{ value }}{% if not loop.last %}, {% endif %}{% endfor %}
from actual
full outer join expected
    on {% for key in key_columns %}actual.{{ key }} = expected.{{ key }}{% if not loop.last %} and {% endif %}{% endfor %}
where {% for key in key_columns %}actual.{{ key }} is null or expected.{{ key }} is null or {% endfor %}
    {% for value in value_columns %}
    not coalesce(abs(actual.{{ value }} - expected.{{ value }}) <= {{ precision }},
        actual.{{ value }} is null and expected.{{ value }} is null){% if not loop.last %} or{% endif %}
    {% endfor %}
{% endtest %}
