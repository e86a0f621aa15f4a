{% macro typed_parquet(path, columns) -%}
    {#- The listed columns of a user parquet file, typed; a column the file lacks comes back as null.
        `columns` maps name -> SQL type. Other columns of the file are never read. -#}
    {{ return(adapter.dispatch('typed_parquet', 'gatehouse')(path, columns)) }}
{%- endmacro %}

{% macro default__typed_parquet(path, columns) -%}
    select * from (
        select {% for name, sql_type in columns.items() %}null::{{ sql_type }} as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
        where false
    )
    union all by name
    select columns(c -> c in ({% for name in columns %}'{{ name }}'{% if not loop.last %}, {% endif %}{% endfor %}))
    from {{ parquet_file(path) }}
{%- endmacro %}

{% macro spark__typed_parquet(path, columns) -%}
    {#- Spark SQL cannot select "the columns that exist": the file's schema is read when the model runs. -#}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- for name in run_query('select * from ' ~ parquet_file(path) ~ ' limit 0').column_names -%}
            {%- do present.append(name | lower) -%}
        {%- endfor -%}
    {%- endif %}
    select
        {% for name, sql_type in columns.items() -%}
        {% if name | lower in present %}{{ adapter.quote(name) }}{% else %}cast(null as {{ sql_type }}){% endif %} as {{ name }}
        {%- if not loop.last %}, {% endif %}
        {% endfor %}
    from {{ parquet_file(path) }}
{%- endmacro %}
