{% macro typed_parquet(path, columns) -%}
    {#- The listed columns of a user parquet file, typed; a column the file lacks comes back as null.
        `columns` maps name -> SQL type. Other columns of the file are never read. -#}
    select * from (
        select {% for name, sql_type in columns.items() %}null::{{ sql_type }} as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
        where false
    )
    union all by name
    select columns(c -> c in ({% for name in columns %}'{{ name }}'{% if not loop.last %}, {% endif %}{% endfor %}))
    from read_parquet({{ sql_string(path) }})
{%- endmacro %}
