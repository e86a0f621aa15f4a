with source as (
    select * from {{ ref('raw_spikes__raster_sites') }}
)

select
    cast(model_role as string) as model_role,
    cast(spike_def_id as string) as spike_def_id,
    cast(target_rate as double) as target_rate,
    cast(gain as double) as gain,
    cast(seq_id as integer) as seq_id,
    cast(layer as integer) as layer,
    cast(token as integer) as token,
    cast(a as bigint) as a
from source
