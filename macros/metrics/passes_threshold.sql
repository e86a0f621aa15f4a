{% macro passes_threshold(value, comparison, threshold) -%}
    {#- True when `value` meets `threshold` under `comparison` ('at_most' | 'at_least'); false for a null or
        NaN value (DuckDB orders NaN above every number, so NaN would pass every at_least threshold). -#}
    coalesce(not isnan({{ value }}) and case {{ comparison }}
        when 'at_most' then {{ value }} <= {{ threshold }}
        when 'at_least' then {{ value }} >= {{ threshold }}
    end, false)
{%- endmacro %}
