{#- The occupied raster sites (condition_index, seq_id, layer, token, a = spikes) stored once, in
    sequence order, for gate C-RS-1 and the per-sequence kernels: the circular-shift null
    (int_shift_null_layer_counts), the avalanches and MR. int_rasters (a view over the events) is
    evaluated here only; the condition keys are in int_raster_conditions. 32-bit integers: three
    Python models read every site (a lattice has far fewer than 2^31 sequences, layers, tokens or
    spikes per site). -#}
with rasters as (
    select * from {{ ref('int_rasters') }}
)

select
    cast(condition_index as integer) as condition_index,
    cast(seq_id as integer) as seq_id,
    cast(layer as integer) as layer,
    cast(token as integer) as token,
    cast(a as integer) as a
from rasters
order by condition_index, seq_id, layer, token
