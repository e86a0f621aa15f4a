{#- The occupied raster sites (condition_index, seq_id, layer, token, a = spikes) stored once, in
    sequence order, for gate C-RS-1 and the per-sequence kernels: the circular-shift null
    (int_shift_null_layer_counts), the avalanches and MR. int_rasters (a view over the events) is
    evaluated here only; the condition keys are in int_raster_conditions. -#}
with rasters as (
    select * from {{ ref('int_rasters') }}
),

conditions as (
    select * from {{ ref('int_raster_conditions') }}
)

select
    conditions.condition_index,
    cast(rasters.seq_id as bigint) as seq_id,
    cast(rasters.layer as bigint) as layer,
    cast(rasters.token as bigint) as token,
    cast(rasters.a as bigint) as a
from rasters
inner join conditions
    on cast(rasters.model_role as string) = conditions.model_role
    and cast(rasters.spike_def_id as string) = conditions.spike_def_id
    and rasters.target_rate = conditions.target_rate
    and rasters.gain = conditions.gain
order by condition_index, seq_id, layer, token
