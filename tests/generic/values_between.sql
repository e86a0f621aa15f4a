{#- expression_between on one column, for column-level gates. -#}
{% test values_between(model, column_name, min_value=none, max_value=none, row_condition=none) %}
    {{ test_expression_between(model, column_name, min_value, max_value, row_condition) }}
{% endtest %}
