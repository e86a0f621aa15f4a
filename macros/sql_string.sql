{% macro sql_string(value) -%}
    {#- A SQL string literal for a run-time value (a path), with quotes escaped. -#}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}
