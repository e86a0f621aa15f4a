{% macro aggregate_input_order(order_by) -%}
    {#- ORDER BY inside a float aggregate call, e.g. var_pop(x <this macro>('k')), so the sum is taken in
        key order and the last bits do not depend on thread scheduling. Spark has no
        ordered aggregates: there the order is the engine's (results agree to ~1e-15 relative). -#}
    {{ return(adapter.dispatch('aggregate_input_order', 'gatehouse')(order_by)) }}
{%- endmacro %}

{% macro default__aggregate_input_order(order_by) -%}
    order by {{ order_by }}
{%- endmacro %}

{% macro spark__aggregate_input_order(order_by) -%}
{%- endmacro %}
