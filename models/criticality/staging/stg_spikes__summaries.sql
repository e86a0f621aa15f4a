with source as (
    select * from {{ ref('raw_spikes__summaries') }}
)

select
    -- ids
    cast(model_role as string) as model_role,
    cast(spike_def_id as string) as spike_def_id,
    cast(gain as double) as gain,
    cast(layer as integer) as layer,
    -- lattice
    cast(n_sequences as integer) as n_sequences,
    cast(seq_len as integer) as seq_len,
    cast(d_ff as integer) as d_ff,
    cast(n_sequences as bigint) * seq_len * d_ff as n_values,
    -- numerics
    cast(v_min as double) as v_min,
    cast(v_max as double) as v_max,
    cast({{ adapter.quote('floor') }} as double) as value_floor,
    cast(n_above_tau0 as bigint) as n_above_tau0
from source
