with source as (
    select * from {{ ref('raw_spikes__events') }}
)

select
    -- ids
    cast(model_role as varchar) as model_role,
    cast(gain as double) as gain,
    cast(seq_id as integer) as seq_id,
    cast(token as integer) as token,
    cast(layer as integer) as layer,
    cast(unit as integer) as unit,
    -- numerics
    cast(z as float) as z
from source
