{% macro spark__load_csv_rows(model, agate_table) %}
    {#- dbt-spark's own version with one change: an empty CSV cell loads as NULL. dbt-spark binds it as the
        text 'None' (its session cursor formats every binding as a quoted string), so an empty text cell
        became the string 'None' where DuckDB loads NULL. -#}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(get_batch_size()) -%}
        {%- set bindings = [] -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- if row[loop.index0] is none -%}
                        cast(null as {{ type }})
                    {%- else -%}
                        {%- do bindings.append(row[loop.index0]) -%}
                        cast({{ get_binding_char() }} as {{ type }})
                    {%- endif -%}
                    {%- if not loop.last %},{% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}
