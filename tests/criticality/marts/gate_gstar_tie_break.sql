{{ config(meta={'gate': 'C-GS-3'}) }}
{#- Recompute the tie-break independently: among the gains at minimal |b_tot - 1|, g* must be the
    one closest to GAIN_BASELINE, then the smaller. Distances in exact decimal, as in the model (macro
    exact_distance): as doubles, 0.85 is farther from 1.0 than 1.15. Returns conditions where gstar
    disagrees. -#}
with metrics as (
    select * from {{ ref('int_grid_metrics_restricted') }}
),

baseline as (
    select gain_baseline from {{ ref('int_rate_match_settings') }}
),

closest as (
    select model_role, spike_def_id, target_rate, min({{ exact_distance('b_tot', 1) }}) as min_abs_err
    from metrics
    group by all
),

tied as (
    select metrics.*
    from metrics
    inner join closest using (model_role, spike_def_id, target_rate)
    where {{ exact_distance('metrics.b_tot', 1) }} = closest.min_abs_err
),

expected as (
    select model_role, spike_def_id, target_rate,
        {{ min_by('gain', [exact_distance('gain', 'baseline.gain_baseline'), 'gain']) }} as expected_gstar,
        count(*) as expected_n_tied
    from tied
    cross join baseline
    group by all
)

select expected.*, gstar.gstar, gstar.n_tied
from expected
full outer join {{ ref('gstar') }} as gstar using (model_role, spike_def_id, target_rate)
where gstar.gstar is distinct from expected.expected_gstar
    or gstar.n_tied is distinct from expected.expected_n_tied
