{#- Reading fields of a JSON document stored as text (the policies' values_json). -#}

{% macro json_field_text(document, key) -%}
    {#- The top-level field `key` of `document` as text. -#}
    {{ return(adapter.dispatch('json_field_text', 'gatehouse')(document, key)) }}
{%- endmacro %}

{% macro default__json_field_text(document, key) -%}
    {{ document }}::json ->> '{{ key }}'
{%- endmacro %}

{% macro spark__json_field_text(document, key) -%}
    get_json_object({{ document }}, '$.{{ key }}')
{%- endmacro %}

{% macro json_string_array_elements(document, key) -%}
    {#- Set-returning select item: one row per string of the array field `key` of `document`. -#}
    {{ return(adapter.dispatch('json_string_array_elements', 'gatehouse')(document, key)) }}
{%- endmacro %}

{% macro default__json_string_array_elements(document, key) -%}
    unnest(from_json({{ document }}::json -> '{{ key }}', '["VARCHAR"]'))
{%- endmacro %}

{% macro spark__json_string_array_elements(document, key) -%}
    explode(from_json(get_json_object({{ document }}, '$.{{ key }}'), 'array<string>'))
{%- endmacro %}
