{#- Occupied sites A[t, l] > 0 per condition (model_role, spike_def, target_rate, gain) and
    sequence: rate-matched spikes (v > tau, strict) counted per site, plus imported rasters. -#}
with spike_values as (
    select * from {{ ref('int_spike_values') }}
),

thresholds as (
    select model_role, spike_def_id, target_rate, gain, layer, tau
    from {{ ref('int_tau_rate_matched') }}
),

imported as (
    select model_role, spike_def_id, target_rate, gain, seq_id, layer, token, a
    from {{ ref('stg_spikes__raster_sites') }}
),

rate_matched as (
    select
        thresholds.model_role,
        thresholds.spike_def_id,
        thresholds.target_rate,
        thresholds.gain,
        spike_values.seq_id,
        spike_values.layer,
        spike_values.token,
        count(*) as a
    from spike_values
    inner join thresholds using (model_role, spike_def_id, gain, layer)
    where spike_values.v > thresholds.tau
    group by all
)

select * from rate_matched
union all
select * from imported
