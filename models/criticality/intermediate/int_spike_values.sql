{{ config(materialized='view') }}
{#- The thresholded value v of each stored event for each spike definition (canon_spike_defs):
    SPIKE_ONE_SIDED_POS thresholds z, SPIKE_TWO_SIDED_ABS thresholds |z|. Only values above the
    stored floor of that definition are kept, so every definition sees a complete tail. -#}
with events as (
    select * from {{ ref('stg_spikes__events') }}
),

ranges as (
    select * from {{ ref('int_value_ranges') }}
),

values_by_definition as (
    select model_role, 'SPIKE_ONE_SIDED_POS' as spike_def_id, gain, seq_id, layer, token, cast(z as double) as v
    from events
    union all
    select model_role, 'SPIKE_TWO_SIDED_ABS' as spike_def_id, gain, seq_id, layer, token, abs(cast(z as double)) as v
    from events
)

select
    values_by_definition.*,
    ranges.v_min_r,
    ranges.v_max_r
from values_by_definition
inner join ranges using (model_role, spike_def_id, gain, layer)
where values_by_definition.v > ranges.value_floor
