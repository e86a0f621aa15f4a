{#- g* per (model_role, spike_def_id, target_rate): the grid gain whose b_tot is closest to 1,
    ties to the gain closest to GAIN_BASELINE, then the smaller gain. Both distances are compared in
    exact decimal (macro exact_distance, shared with gate C-GS-3), not as doubles.
    Reads branching metrics only (int_grid_metrics_restricted). Docs block `gstar_rule`; the
    annotations (crossing gain, intervals) change nothing in the selection: docs block `gstar_annotations`. -#}
{#- one line per grid gain of the hashed curve, doubles as their IEEE-754 bits (engine-independent) -#}
{%- set curve_row_text -%}
    concat_ws('|', spike_def_id, {{ canonical_double_text('target_rate') }}, {{ canonical_double_text('gain') }},
        {{ canonical_double_text('b_tot') }})
{%- endset %}
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
    from (
        select *, min(exact_abs_err) over (partition by model_role, spike_def_id, target_rate) as min_exact_abs_err
        from scored
    ) as closest
    where exact_abs_err = min_exact_abs_err
),

chosen as (
    select *
    from (
        select
            *,
            count(*) over (partition by model_role, spike_def_id, target_rate) as n_tied,
            row_number() over (
                partition by model_role, spike_def_id, target_rate order by distance_to_baseline, gain
            ) as tie_order
        from candidates
    ) as ordered
    where tie_order = 1
),

segments as (
    select
        model_role, spike_def_id, target_rate, gain, b_tot,
        lead(gain) over curve_order as next_gain,
        lead(b_tot) over curve_order as next_b_tot
    from metrics
    window curve_order as (partition by model_role, spike_def_id, target_rate order by gain)
),

crossings as (
    {#- b_tot - 1 changes sign (or touches 0) between adjacent grid gains: linear interpolation -#}
    select distinct
        model_role, spike_def_id, target_rate,
        case
            when b_tot = 1.0 then gain
            when next_b_tot = 1.0 then next_gain
            else gain + (1.0 - b_tot) * (next_gain - gain) / (next_b_tot - b_tot)
        end as crossing_gain
    from segments
    where next_gain is not null and (b_tot - 1.0) * (next_b_tot - 1.0) <= 0
),

nearest_crossing as (
    select
        crossings.model_role, crossings.spike_def_id, crossings.target_rate,
        count(*) as n_crossings,
        {{ min_by('crossings.crossing_gain', ['abs(crossings.crossing_gain - chosen.gain)', 'crossings.crossing_gain']) }}
            as crossing_gain
    from crossings
    inner join chosen using (model_role, spike_def_id, target_rate)
    group by all
),

curve as (
    select
        model_role,
        spike_def_id,
        target_rate,
        min(b_tot) <= 1.0 and max(b_tot) >= 1.0 as crosses_one_in_grid,
        regr_slope(b_tot, gain) as b_tot_slope,
        any_value(b_tot_slope_ci_low) as b_tot_slope_ci_low,
        any_value(b_tot_slope_ci_high) as b_tot_slope_ci_high,
        min(gain) as grid_min_gain,
        max(gain) as grid_max_gain,
        count(*) as n_gains,
        {{ sha256_hex(ordered_string_agg(curve_row_text, 'chr(10)', 'gain')) }} as metrics_content_sha256
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
    curve.metrics_content_sha256,
    coalesce(nearest_crossing.n_crossings, 0) as n_crossings,
    nearest_crossing.crossing_gain,
    chosen.b_tot_ci_low as b_tot_ci_low_at_gstar,
    chosen.b_tot_ci_high as b_tot_ci_high_at_gstar,
    chosen.b_tot_ci_low <= 1.0 and chosen.b_tot_ci_high >= 1.0 as b_tot_ci_contains_one_at_gstar,
    curve.b_tot_slope_ci_low,
    curve.b_tot_slope_ci_high
from chosen
inner join curve using (model_role, spike_def_id, target_rate)
left join nearest_crossing using (model_role, spike_def_id, target_rate)
