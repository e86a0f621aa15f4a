{% macro min_by(value, keys) -%}
    {#- Aggregate: `value` of the row with the smallest `keys` (a list of expressions compared in order,
        so later keys break ties of earlier ones). -#}
    {{ return(adapter.dispatch('min_by', 'gatehouse')(value, keys)) }}
{%- endmacro %}

{% macro default__min_by(value, keys) -%}
    arg_min({{ value }}, {{ '{' }}{% for key in keys %}'k{{ loop.index }}': {{ key }}{{ ', ' if not loop.last }}{% endfor %}{{ '}' }})
{%- endmacro %}

{% macro spark__min_by(value, keys) -%}
    min_by({{ value }}, named_struct({% for key in keys %}'k{{ loop.index }}', {{ key }}{{ ', ' if not loop.last }}{% endfor %}))
{%- endmacro %}
