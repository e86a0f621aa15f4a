{#- g* per (model_role, spike_def_id, target_rate): the grid gain whose b_tot is closest to 1,
    ties to the gain closest to GAIN_BASELINE, then the smaller gain. Both distances are compared in
    exact decimal (macro exact_distance, shared with gate C-GS-3), not as doubles.
    Reads branching metrics only (int_grid_metrics_restricted). Docs block `gstar_rule`. -#}
with metrics as (
    select * from {{ ref('int_grid_metrics_restricted') }}
),

settings as (
    select * from {{ ref('int_rate_match_settings') }}
),

scored as (
    select
        metrics.*,
        abs(metrics.b_tot - 1.0) as abs_err,
        {{ exact_distance('metrics.b_tot', 1) }} as exact_abs_err,
        {{ exact_distance('metrics.gain', 'settings.gain_baseline') }} as distance_to_baseline
    from metrics
    cross join settings
),

candidates as (
    select *
    from scored
    qualify exact_abs_err = min(exact_abs_err) over (partition by model_role, spike_def_id, target_rate)
),

chosen as (
    select
        *,
        count(*) over (partition by model_role, spike_def_id, target_rate) as n_tied
    from candidates
    qualify row_number() over (
        partition by model_role, spike_def_id, target_rate order by distance_to_baseline, gain
    ) = 1
),

curve as (
    select
        model_role,
        spike_def_id,
        target_rate,
        min(b_tot) <= 1.0 and max(b_tot) >= 1.0 as crosses_one_in_grid,
        regr_slope(b_tot, gain) as b_tot_slope,
        min(gain) as grid_min_gain,
        max(gain) as grid_max_gain,
        count(*) as n_gains,
        sha256(string_agg(concat_ws('|', spike_def_id, target_rate, gain, b_tot), chr(10) order by gain))
            as metrics_content_sha256
    from metrics
    group by all
)

select
    chosen.model_role,
    chosen.spike_def_id,
    chosen.target_rate,
    chosen.gain as gstar,
    chosen.b_tot as b_tot_at_gstar,
    chosen.abs_err as abs_err_at_gstar,
    chosen.n_tied,
    chosen.n_tied > 1 as tie_break_applied,
    curve.crosses_one_in_grid,
    chosen.gain in (curve.grid_min_gain, curve.grid_max_gain) as gstar_at_grid_edge,
    curve.b_tot_slope,
    curve.n_gains,
    'btot_near_one' as method,
    curve.metrics_content_sha256
from chosen
inner join curve using (model_role, spike_def_id, target_rate)
