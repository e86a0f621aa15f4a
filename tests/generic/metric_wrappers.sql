{#- Thin wrappers over expression_between for the named metrics. -#}

{% test values_between(model, column_name, min_value=none, max_value=none, row_condition=none) %}
    {{ test_expression_between(model, column_name, min_value, max_value, row_condition) }}
{% endtest %}

{% test ratio_between(model, numerator, denominator, min_value=none, max_value=none, row_condition=none, group_by=none) %}
    {{ test_expression_between(model, numerator ~ " / nullif(" ~ denominator ~ ", 0)", min_value, max_value, row_condition, group_by) }}
{% endtest %}

{% test gini_between(model, column_name, min_value=none, max_value=none, row_condition=none, group_by=none) %}
    {{ test_expression_between(model, gini(column_name), min_value, max_value, row_condition, group_by) }}
{% endtest %}

{% test top_share_between(model, column_name, fraction, min_value=none, max_value=none, row_condition=none, group_by=none) %}
    {{ test_expression_between(model, top_share(column_name, fraction), min_value, max_value, row_condition, group_by) }}
{% endtest %}

{% test quantile_between(model, column_name, quantile, min_value=none, max_value=none, row_condition=none, group_by=none) %}
    {{ test_expression_between(model, "quantile_cont(" ~ column_name ~ ", " ~ quantile ~ ")", min_value, max_value, row_condition, group_by) }}
{% endtest %}
