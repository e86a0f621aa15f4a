{#- The certificate (one row): B or B+ is certified only when every required seed is present, every
    gate of that grade passes on every seed (with the structural checks and no regression), and every
    core metric's CV is within the grade's limit; and no grade at all unless every plausibility check
    (P-1..P-4: realism_grades.plausibility_pass) passes on every graded seed (a seed without plausibility rows fails).
    The bootstrap columns say whether the 95% upper bounds of Gini and top-k shares clear their gates too. -#}
with grades as (
    select * from {{ ref('realism_grades') }}
),

stability as (
    select * from {{ ref('realism_stability') }}
),

required as (
    select cast(seed as {{ seed_type() }}) as seed from {{ ref('certification_seeds') }}
),

bootstrap as (
    select ci.seed, ci.metric, ci.ci_high, gates.grade, gates.threshold
    from {{ ref('realism_bootstrap_ci') }} as ci
    inner join {{ ref('realism_gates') }} as gates on gates.metric = ci.metric
),

seeds as (
    select
        (select {{ ordered_string_agg('cast(seed as string)', "','", 'seed') }} from grades) as seeds_present,
        (select coalesce({{ ordered_string_agg('cast(seed as string)', "','", 'seed') }}, '')
            from required where seed not in (select seed from grades)) as missing_seeds
),

summary as (
    select
        seeds.seeds_present,
        seeds.missing_seeds,
        (select bool_and(b_all_pass) from grades) as b_all_pass_every_seed,
        (select bool_and(b_all_pass and bplus_gates_pass) from grades) as bplus_all_pass_every_seed,
        (select coalesce(bool_and(plausibility_pass), false) from grades) as plausibility_pass_every_seed,
        (select max(cv) from stability) as max_cv,
        (select any_value(cv_max_b) from stability) as cv_max_b,
        (select any_value(cv_max_bplus) from stability) as cv_max_bplus,
        (select bool_and(ci_high <= threshold) from bootstrap where grade = 'B') as bootstrap_upper_clear_b,
        (select bool_and(ci_high <= threshold) from bootstrap where grade = 'B+') as bootstrap_upper_clear_bplus,
        (select {{ ordered_string_agg('status', "','", 'status', distinct=true) }} from grades) as seed_statuses
    from seeds
)

select
    *,
    case
        when not plausibility_pass_every_seed then 'NONE'
        when missing_seeds = '' and bplus_all_pass_every_seed and max_cv <= cv_max_bplus then 'B+'
        when missing_seeds = '' and b_all_pass_every_seed and max_cv <= cv_max_b then 'B'
        else 'NONE'
    end as certified_grade,
    {{ sql_string(input_var('realism_target_grade')) }} as target_grade
from summary
