{% macro ordered_string_agg(text, separator, order_by, distinct=false) -%}
    {#- Aggregate: the group's strings joined by `separator` in the order `order_by` (an ORDER BY list);
        with distinct, repeated strings once (`order_by` must then be `text` itself). -#}
    {{ return(adapter.dispatch('ordered_string_agg', 'gatehouse')(text, separator, order_by, distinct)) }}
{%- endmacro %}

{% macro default__ordered_string_agg(text, separator, order_by, distinct) -%}
    string_agg({{ 'distinct ' if distinct }}{{ text }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_string_agg(text, separator, order_by, distinct) -%}
    listagg({{ 'distinct ' if distinct }}{{ text }}, {{ separator }}) within group (order by {{ order_by }})
{%- endmacro %}
