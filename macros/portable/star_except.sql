{% macro star_except(relation, excluded, alias=none) -%}
    {#- Select list: every column of `relation` (selected as `alias`.column when alias is given) except the
        `excluded` names. -#}
    {{ return(adapter.dispatch('star_except', 'gatehouse')(relation, excluded, alias)) }}
{%- endmacro %}

{% macro default__star_except(relation, excluded, alias) -%}
    {{ alias ~ '.' if alias }}* exclude ({{ excluded | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(relation, excluded, alias) -%}
    {#- Spark has no * EXCEPT: the columns are listed from the relation's schema when the model runs. -#}
    {%- set kept = [] -%}
    {%- if execute -%}
        {%- set dropped = excluded | map('lower') | list -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name | lower not in dropped -%}
            {%- do kept.append((alias ~ '.' if alias else '') ~ adapter.quote(column.name)) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ kept | join(', ') if kept else '*' }}
{%- endmacro %}
