{#- results/metrics.parquet of the gain-grid run: one row per (model_role, spike_def_id,
    target_rate, gain). Definitions: docs blocks `branching_ratios`, `shift_null`, `bootstrap_ci`,
    `b_tot_slope_ci`, `susceptibility`, `avalanches`, `crackling`, `tail_fits`, `mr_estimator`. -#}
{%- set condition_keys = ['model_role', 'spike_def_id', 'target_rate', 'gain'] %}
with lattices as (
    select * from {{ ref('int_condition_lattices') }}
),

settings as (
    select * from {{ ref('int_rate_match_settings') }}
),

canonical_grid as (
    select * from {{ ref('int_condition_grid') }}
),

pooled_counts as (
    select
        model_role, spike_def_id, target_rate, gain,
        sum(num_time) as num_time,
        sum(num_depth) as num_depth,
        sum(n_occupied) as n_occupied,
        sum(n_occupied_time_valid) as n_occupied_time_valid,
        sum(n_occupied_depth_valid) as n_occupied_depth_valid,
        sum(num_time_perm) as num_time_perm,
        sum(num_depth_perm) as num_depth_perm,
        sum(num_time_shift) as num_time_shift,
        sum(num_depth_shift) as num_depth_shift
    from {{ ref('int_branching_counts') }}
    group by all
),

intervals as (
    select * from {{ ref('int_branching_bootstrap') }}
),

slope_intervals as (
    select * from {{ ref('int_b_tot_slope_bootstrap') }}
),

avalanche_aggregates as (
    select * from {{ ref('int_avalanche_aggregates') }}
),

signatures as (
    select * from {{ ref('int_avalanche_signatures') }}
),

mr_estimates as (
    select * from {{ ref('int_mr_estimates') }}
),

rates as (
    select
        model_role, spike_def_id, target_rate, gain,
        avg(achieved_rate) as achieved_rate_mean,
        max(achieved_rate_abs_err) as achieved_rate_max_abs_err
    from {{ ref('tau_rate_matched') }}
    group by all
),

ratios as (
    select
        lattices.model_role,
        lattices.spike_def_id,
        lattices.target_rate,
        lattices.gain,
        pooled_counts.num_time / nullif(pooled_counts.n_occupied, 0) as b_time,
        pooled_counts.num_depth / nullif(pooled_counts.n_occupied, 0) as b_depth,
        pooled_counts.num_time / nullif(pooled_counts.n_occupied_time_valid, 0) as b_time_excl_boundary,
        pooled_counts.num_depth / nullif(pooled_counts.n_occupied_depth_valid, 0) as b_depth_excl_boundary,
        pooled_counts.num_time_perm / nullif(pooled_counts.n_occupied, 0) as b_time_perm,
        pooled_counts.num_depth_perm / nullif(pooled_counts.n_occupied, 0) as b_depth_perm,
        pooled_counts.num_time_shift / nullif(pooled_counts.n_occupied, 0) as b_time_shift,
        pooled_counts.num_depth_shift / nullif(pooled_counts.n_occupied, 0) as b_depth_shift,
        rates.achieved_rate_mean,
        rates.achieved_rate_max_abs_err,
        settings.rate_match_tol_abs,
        lattices.n_sequences,
        coalesce(pooled_counts.n_occupied, 0) as n_occupied_sites,
        canonical_grid.gain is not null as in_canonical_grid
    from lattices
    cross join settings
    left join pooled_counts using (model_role, spike_def_id, target_rate, gain)
    left join rates using (model_role, spike_def_id, target_rate, gain)
    left join canonical_grid using (model_role, spike_def_id, target_rate, gain)
)

select
    model_role,
    spike_def_id,
    target_rate,
    gain,
    b_time,
    b_depth,
    b_time + b_depth as b_tot,
    b_time_perm,
    b_depth_perm,
    b_time_perm + b_depth_perm as b_tot_perm,
    b_time - b_time_perm as delta_b_time,
    b_depth - b_depth_perm as delta_b_depth,
    (b_time + b_depth) - (b_time_perm + b_depth_perm) as delta_b_tot,
    b_time_excl_boundary,
    b_depth_excl_boundary,
    b_time_excl_boundary + b_depth_excl_boundary as b_tot_excl_boundary,
    achieved_rate_mean,
    achieved_rate_max_abs_err,
    rate_match_tol_abs,
    n_sequences,
    n_occupied_sites,
    in_canonical_grid,
    b_time_shift,
    b_depth_shift,
    b_time_shift + b_depth_shift as b_tot_shift,
    b_time - b_time_shift as delta_b_time_shift,
    b_depth - b_depth_shift as delta_b_depth_shift,
    (b_time + b_depth) - (b_time_shift + b_depth_shift) as delta_b_tot_shift,
    {{ star_except(ref('int_branching_bootstrap'), ['n_boot'] + condition_keys, 'intervals') }},
    slope_intervals.b_tot_slope_ci_low,
    slope_intervals.b_tot_slope_ci_high,
    {{ star_except(ref('int_avalanche_aggregates'), condition_keys, 'avalanche_aggregates') }},
    {{ star_except(ref('int_avalanche_signatures'), condition_keys, 'signatures') }},
    {{ star_except(ref('int_mr_estimates'), condition_keys, 'mr_estimates') }}
from ratios
left join intervals using (model_role, spike_def_id, target_rate, gain)
left join slope_intervals using (model_role, spike_def_id, target_rate)
left join avalanche_aggregates using (model_role, spike_def_id, target_rate, gain)
left join signatures using (model_role, spike_def_id, target_rate, gain)
left join mr_estimates using (model_role, spike_def_id, target_rate, gain)
