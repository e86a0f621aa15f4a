{#- Grade per seed, as the reference P4 classifier: B_all = every B gate and the structural checks
    (coordinates in bounds, collapse sentinel clear) and no regression against last_good. GREEN_B when
    B_all and every B+ gate pass, AMBER_NEAR_BPLUS when only B_all holds, else RED_REOPEN_REQUIRED.
    plausibility_pass (not part of the reference classifier): every check P-1..P-4 of the seed passes, a
    seed without plausibility rows failing; no grade is reached without it (certificate, `sites score`). -#}
with gate_results as (
    select * from {{ ref('realism_gate_results') }}
),

scorecard as (
    select * from {{ ref('realism_scorecard') }}
),

regressions as (
    select seed, count(*) filter (where regressed) as n_regressed
    from {{ ref('realism_regression_check') }}
    group by seed
),

plausibility as (
    select seed, bool_and(passed) as passed
    from {{ ref('realism_plausibility') }}
    group by seed
),

by_grade as (
    select
        seed,
        bool_and(passed) filter (where grade = 'B') as b_gates_pass,
        bool_and(passed) filter (where grade = 'B+') as bplus_gates_pass,
        coalesce({{ ordered_string_agg("gate_id || ' ' || metric", "', '", 'gate_id') }} filter (where not passed), '')
            as failing_gates
    from gate_results
    group by seed
),

classified as (
    select
        by_grade.*,
        scorecard.coordinate_bounds_valid and scorecard.collapse_flagged_countries = 0 as structural_pass,
        coalesce(regressions.n_regressed, 0) = 0 as no_regression,
        coalesce(plausibility.passed, false) as plausibility_pass
    from by_grade
    inner join scorecard using (seed)
    left join regressions using (seed)
    left join plausibility using (seed)
)

select
    *,
    b_gates_pass and structural_pass and no_regression as b_all_pass,
    case
        when b_gates_pass and structural_pass and no_regression and bplus_gates_pass then 'GREEN_B'
        when b_gates_pass and structural_pass and no_regression then 'AMBER_NEAR_BPLUS'
        else 'RED_REOPEN_REQUIRED'
    end as status
from classified
order by seed
