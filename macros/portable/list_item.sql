{% macro list_item(list, position) -%}
    {#- Item `position` (1-based) of a list. -#}
    {{ return(adapter.dispatch('list_item', 'gatehouse')(list, position)) }}
{%- endmacro %}

{% macro default__list_item(list, position) -%}
    {{ list }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_item(list, position) -%}
    element_at({{ list }}, {{ position }})
{%- endmacro %}
