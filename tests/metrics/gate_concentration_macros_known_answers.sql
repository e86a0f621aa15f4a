{{ config(meta={'gate': 'M-1'}) }}
{#- Known answers for the concentration macros used by every scorecard: rows returned = wrong answers.
    Gini: equal -> 0; one-hot over n = 4 -> (n-1)/n = 0.75; [1,2,3,4] -> sum((2i-n-1) x_i)/(n sum x) =
    10/40 = 0.25. Top share of [10..1] (sum 55): f = 0.05 -> k = ceil(0.5) = 1 -> 10/55; f = 0.25 ->
    k = ceil(2.5) = 3 -> 27/55. CV of [1,2,3,4]: sqrt(1.25)/2.5. -#}
with vectors as (
    select * from (values
        ('equal', 5), ('equal', 5), ('equal', 5), ('equal', 5),
        ('one_hot', 0), ('one_hot', 0), ('one_hot', 0), ('one_hot', 7),
        ('ramp', 1), ('ramp', 2), ('ramp', 3), ('ramp', 4)
    ) as t(vector, x)
),

ten_to_one as (
    select * from (values {% for x in range(1, 11) %}({{ x }}){{ ', ' if not loop.last }}{% endfor %}) as t(x)
),

answers as (
    select vector as case_name, {{ gini('x') }} as got,
        case vector when 'equal' then 0.0 when 'one_hot' then 0.75 else 0.25 end as expected
    from vectors
    group by vector
    union all
    select 'top_share_5pct', {{ top_share('x', 0.05) }}, 10 / 55 from ten_to_one
    union all
    select 'top_share_25pct', {{ top_share('x', 0.25) }}, 27 / 55 from ten_to_one
    union all
    select 'cv_ramp', {{ coefficient_of_variation('x') }}, sqrt(1.25) / 2.5 from vectors where vector = 'ramp'
)

select * from answers where not abs(got - expected) <= 1e-12
