with source as (
    select * from {{ ref('raw_spikes__raster_conditions') }}
)

select
    cast(cond_id as integer) as cond_id,
    cast(model_role as string) as model_role,
    cast(spike_def_id as string) as spike_def_id,
    cast(target_rate as double) as target_rate,
    cast(gain as double) as gain,
    cast(n_sequences as integer) as n_sequences,
    cast(n_layers as integer) as n_layers,
    cast(seq_len as integer) as seq_len
from source
