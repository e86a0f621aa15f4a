{#- The occupied raster sites (condition_index, seq_id, layer, token, a = spikes) stored once, in
    sequence order, for gate C-RS-1 and the per-sequence kernels: the circular-shift null
    (int_shift_null_layer_counts), the avalanches and MR. int_rasters (a view over the events) is
    evaluated here only; the condition keys are in int_raster_conditions. 32-bit integers: three
    Python models read every site (a lattice has far fewer than 2^31 sequences, layers, tokens or
    spikes per site). -#}
with rasters as (
    select * from {{ ref('int_rasters') }}
),

conditions as (
    select * from {{ ref('int_raster_conditions') }}
)

select
    cast(conditions.condition_index as integer) as condition_index,
    cast(rasters.seq_id as integer) as seq_id,
    cast(rasters.layer as integer) as layer,
    cast(rasters.token as integer) as token,
    cast(rasters.a as integer) as a
from rasters
inner join conditions
    on cast(rasters.model_role as string) = conditions.model_role
    and cast(rasters.spike_def_id as string) = conditions.spike_def_id
    and rasters.target_rate = conditions.target_rate
    and rasters.gain = conditions.gain
order by condition_index, seq_id, layer, token
