{{ config(materialized='view') }}
{#- The rasters A[condition, seq, layer, token] (spikes per occupied site), defined in SQL: stored
    events with v > tau (strict; v = z for SPIKE_ONE_SIDED_POS, |z| for SPIKE_TWO_SIDED_ABS), plus
    imported rasters, keyed by int_raster_conditions' condition_index. A view: the metrics pool
    int_raster_layer_counts (the same counts from the compiled pass 2), and gate C-RS-1 checks the
    two agree. Each event meets its thresholds already keyed by condition, so the scan groups
    integers only. -#}
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

conditions as (
    select * from {{ ref('int_raster_conditions') }}
),

imported as (
    select model_role, spike_def_id, target_rate, gain, seq_id, layer, token, a
    from {{ ref('stg_spikes__raster_sites') }}
),

condition_thresholds as (
    select
        conditions.condition_index,
        conditions.model_role,
        conditions.spike_def_id = 'SPIKE_TWO_SIDED_ABS' as two_sided,
        conditions.gain,
        thresholds.layer,
        thresholds.tau
    from thresholds
    inner join conditions on {{ same_condition('thresholds', 'conditions') }}
    inner join spike_defs
        on cast(spike_defs.spike_def_id as string) = conditions.spike_def_id
),

rate_matched as (
    select
        condition_thresholds.condition_index,
        events.seq_id,
        events.layer,
        events.token,
        count(*) as a
    from events
    inner join condition_thresholds
        on events.model_role = condition_thresholds.model_role
        and events.gain = condition_thresholds.gain
        and events.layer = condition_thresholds.layer
    where case when condition_thresholds.two_sided then abs(cast(events.z as double))
        else cast(events.z as double) end > condition_thresholds.tau
    group by all
),

imported_sites as (
    select conditions.condition_index, imported.seq_id, imported.layer, imported.token, imported.a
    from imported
    inner join conditions on {{ same_condition('imported', 'conditions') }}
)

select * from rate_matched
union all
select * from imported_sites
