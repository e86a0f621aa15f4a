{% macro raise_error(message) -%}
    {#- Expression that stops the query with `message` when evaluated (put it in a CASE branch). -#}
    {{ return(adapter.dispatch('raise_error', 'gatehouse')(message)) }}
{%- endmacro %}

{% macro default__raise_error(message) -%}
    error({{ message }})
{%- endmacro %}

{% macro spark__raise_error(message) -%}
    raise_error({{ message }})
{%- endmacro %}
