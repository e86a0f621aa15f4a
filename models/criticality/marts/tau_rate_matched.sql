{#- One row per (model_role, spike_def, target_rate, gain, layer): the rate-matched threshold,
    the rounded histogram edges, and the achieved rate recounted with a strict v > tau. -#}
with thresholds as (
    select * from {{ ref('int_tau_rate_matched') }}
),

ranges as (
    select * from {{ ref('int_value_ranges') }}
),

settings as (
    select * from {{ ref('int_rate_match_settings') }}
),

spikes_per_layer as (
    select
        cast(model_role as string) as model_role,
        cast(spike_def_id as string) as spike_def_id,
        target_rate,
        gain,
        layer,
        sum(n_spikes) as n_spikes
    from {{ ref('int_raster_layer_counts') }}
    group by all
)

select
    thresholds.model_role,
    thresholds.spike_def_id,
    thresholds.target_rate,
    thresholds.gain,
    thresholds.layer,
    thresholds.tau,
    thresholds.v_min_r as v_min,
    thresholds.v_max_r as v_max,
    thresholds.r_star as target_layer_rate,
    coalesce(spikes_per_layer.n_spikes, 0) / ranges.n_values as achieved_rate,
    abs(coalesce(spikes_per_layer.n_spikes, 0) / ranges.n_values - thresholds.r_star) as achieved_rate_abs_err,
    settings.rate_match_tol_abs,
    ranges.n_values
from thresholds
inner join ranges using (model_role, spike_def_id, gain, layer)
left join spikes_per_layer using (model_role, spike_def_id, target_rate, gain, layer)
cross join settings
