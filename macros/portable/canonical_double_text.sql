{% macro canonical_double_text(value) -%}
    {#- Engine-independent text of a double, for hashing: the 16 lower-case hex digits of its IEEE-754
        binary64 bit pattern (Python: struct.pack('>d', x).hex()); 'nan', 'inf', '-inf'; null for null.
        Engines print doubles differently (DuckDB 1e-05, Spark 1.0E-5, and neither promises the
        shortest digits), so a hash of printed doubles depends on the engine; the bits do not.
        Gate M-2 checks known bit patterns on every engine, and both forms below on DuckDB. -#}
    {{ return(adapter.dispatch('canonical_double_text', 'gatehouse')(value)) }}
{%- endmacro %}

{% macro duckdb__canonical_double_text(value) -%}
    {#- DuckDB casts a double to its 64 bits (BIT), and those to the bigint with the same bits. -#}
    case
        when {{ value }} is null then null
        when isnan({{ value }}) then 'nan'
        when {{ value }} = cast('Infinity' as double) then 'inf'
        when {{ value }} = cast('-Infinity' as double) then '-inf'
        else lower(lpad(hex(cast(cast({{ value }} as bit) as bigint)), 16, '0'))
    end
{%- endmacro %}

{% macro default__canonical_double_text(value) -%}
    {#- Portable SQL with exact operations only: the exponent from log2, corrected against powers of
        two; the 52-bit fraction as |x| times a power of two split in two factors (no intermediate
        overflows); the sign of zero from its text ('-0.0' on DuckDB and Spark). Every branch stays
        finite (inf and NaN become 0 before any arithmetic). -#}
    {%- set magnitude = 'abs(case when ' ~ value ~ ' - ' ~ value ~ ' = 0 then ' ~ value ~ ' else 0 end)' -%}
    {%- set estimate = 'cast(floor(log2(greatest(' ~ magnitude ~ ', power(2, -1022)))) as integer)' -%}
    {#- the exponent e of a normal number: 2^e <= |x| < 2^(e+1) -#}
    {%- set exponent -%}
        ({{ estimate }} - case when {{ magnitude }} < power(2, {{ estimate }}) then 1 else 0 end
            + case when {{ magnitude }} >= power(2, {{ estimate }} + 1) then 1 else 0 end)
    {%- endset -%}
    {%- set scale = '(52 - ' ~ exponent ~ ')' -%}
    {%- set half_scale = 'cast(floor(' ~ scale ~ ' / 2) as integer)' -%}
    case
        when {{ value }} is null then null
        when isnan({{ value }}) then 'nan'
        when {{ value }} = cast('Infinity' as double) then 'inf'
        when {{ value }} = cast('-Infinity' as double) then '-inf'
        else lower(
            lpad(hex(
                case
                    when {{ value }} < 0 then 2048
                    when {{ value }} = 0 and cast({{ value }} as string) like '-%' then 2048
                    else 0
                end
                + case when {{ magnitude }} < power(2, -1022) then 0 else {{ exponent }} + 1023 end
            ), 3, '0')
            || lpad(hex(cast(
                case
                    when {{ magnitude }} < power(2, -1022) then {{ magnitude }} * power(2, 537) * power(2, 537)
                    else {{ magnitude }} * power(2, {{ half_scale }}) * power(2, {{ scale }} - {{ half_scale }})
                        - power(2, 52)
                end as bigint)), 13, '0'))
    end
{%- endmacro %}
