{% macro ieee_divide(dividend, divisor) -%}
    {#- dividend / divisor as a double with IEEE-754 division by zero (±inf, NaN for 0/0), DuckDB's
        behaviour. For divisions whose divisor can be 0 on valid data; Spark's ANSI mode would raise. -#}
    {{ return(adapter.dispatch('ieee_divide', 'gatehouse')(dividend, divisor)) }}
{%- endmacro %}

{% macro default__ieee_divide(dividend, divisor) -%}
    {{ dividend }} / {{ divisor }}
{%- endmacro %}

{% macro spark__ieee_divide(dividend, divisor) -%}
    case
        when ({{ divisor }}) <> 0 or ({{ dividend }}) is null then ({{ dividend }}) / ({{ divisor }})
        when ({{ dividend }}) = 0 or isnan({{ dividend }}) then double('NaN')
        when (({{ dividend }}) > 0) = (cast(({{ divisor }}) as string) not like '-%') then double('Infinity')
        else double('-Infinity')
    end
{%- endmacro %}
