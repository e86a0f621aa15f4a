{{ config(meta={'gate': 'M-2'}) }}
{#- Known answers for macro canonical_double_text, run on every engine: each awkward double must give
    its IEEE-754 binary64 bit pattern, the expected text being Python's struct.pack('>d', x).hex() of
    the same literal. Covers values engines print differently (1e-05, 1/3), signed zero, the largest and
    smallest normal and subnormal numbers, and the non-finite values. The portable form
    (default__canonical_double_text, Spark's) is checked on every engine too, so a DuckDB build also
    vouches for it. Rows returned = wrong answers. -#}
with cases as (
    select * from (values
        ('1e-05', '3ee4f8b588e368f1'),
        ('0.1', '3fb999999999999a'),
        ('0.3', '3fd3333333333333'),
        ('1', '3ff0000000000000'),
        ('-1.5', 'bff8000000000000'),
        ('0.0', '0000000000000000'),
        ('-0.0', '8000000000000000'),
        ('123.456', '405edd2f1a9fbe77'),
        ('-33.8688', 'c040ef34d6a161e5'),
        ('9007199254740993', '4340000000000000'),
        ('1e300', '7e37e43c8800759c'),
        ('-1.7976931348623157e308', 'ffefffffffffffff'),
        ('2.2250738585072014e-308', '0010000000000000'),
        ('2.225073858507201e-308', '000fffffffffffff'),
        ('5e-324', '0000000000000001'),
        ('Infinity', 'inf'),
        ('-Infinity', '-inf'),
        ('NaN', 'nan')
    ) as t(literal, expected)
    union all
    select 'one third', '3fd5555555555555'
),

formatted as (
    select
        literal,
        expected,
        case when literal = 'one third' then cast(1 as double) / 3 else cast(literal as double) end as value
    from cases
)

select literal, expected, {{ canonical_double_text('value') }} as got,
    {{ default__canonical_double_text('value') }} as got_portable
from formatted
where {{ canonical_double_text('value') }} is distinct from expected
    or {{ default__canonical_double_text('value') }} is distinct from expected
    or {{ canonical_double_text('cast(null as double)') }} is not null
    or {{ default__canonical_double_text('cast(null as double)') }} is not null
