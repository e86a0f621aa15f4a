{{ config(materialized='view') }}
{#- The rasters A[condition, seq, layer, token] (spikes per occupied site), defined in SQL: stored
    events with v > tau (strict; v = z for SPIKE_ONE_SIDED_POS, |z| for SPIKE_TWO_SIDED_ABS), plus
    imported rasters. A view: the metrics pool int_raster_layer_counts (the same counts from the
    compiled pass 2), and gate C-RS-1 checks the two agree. -#}
with events as (
    select * from {{ ref('stg_spikes__events') }}
),

spike_defs as (
    select spike_def_id from {{ ref('canon_spike_defs') }}
),

thresholds as (
    select model_role, spike_def_id, target_rate, gain, layer, tau
    from {{ ref('int_tau_rate_matched') }}
),

imported as (
    select model_role, spike_def_id, target_rate, gain, seq_id, layer, token, a
    from {{ ref('stg_spikes__raster_sites') }}
),

spike_values as (
    select
        events.model_role,
        spike_defs.spike_def_id,
        events.gain,
        events.seq_id,
        events.layer,
        events.token,
        case spike_defs.spike_def_id
            when 'SPIKE_TWO_SIDED_ABS' then abs(cast(events.z as double))
            else cast(events.z as double)
        end as v
    from events
    cross join spike_defs
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
