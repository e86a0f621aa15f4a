{#- Lists (DuckDB LIST, Spark ARRAY) built by aggregates and read in messages. -#}

{% macro ordered_list(value, order_by) -%}
    {#- Aggregate: the group's values as a list, in the order of the single expression `order_by`. -#}
    {{ return(adapter.dispatch('ordered_list', 'gatehouse')(value, order_by)) }}
{%- endmacro %}

{% macro default__ordered_list(value, order_by) -%}
    list({{ value }} order by {{ order_by }})
{%- endmacro %}

{% macro spark__ordered_list(value, order_by) -%}
    transform(array_sort(collect_list(named_struct('k', {{ order_by }}, 'v', {{ value }}))), item -> item.v)
{%- endmacro %}

{% macro sorted_distinct_list(value) -%}
    {#- Aggregate: the group's distinct non-null values as an ascending list. -#}
    {{ return(adapter.dispatch('sorted_distinct_list', 'gatehouse')(value)) }}
{%- endmacro %}

{% macro default__sorted_distinct_list(value) -%}
    list_sort(list(distinct {{ value }}))
{%- endmacro %}

{% macro spark__sorted_distinct_list(value) -%}
    array_sort(collect_set({{ value }}))
{%- endmacro %}

{% macro list_head(list, length) -%}
    {#- The first `length` items of a list. -#}
    {{ return(adapter.dispatch('list_head', 'gatehouse')(list, length)) }}
{%- endmacro %}

{% macro default__list_head(list, length) -%}
    {{ list }}[:{{ length }}]
{%- endmacro %}

{% macro spark__list_head(list, length) -%}
    slice({{ list }}, 1, {{ length }})
{%- endmacro %}
