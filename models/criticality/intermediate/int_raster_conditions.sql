{#- Every condition of the build numbered 0..C-1 in key order, with its lattice: the condition_index
    of int_raster_sites, so the per-sequence kernels read integers only. -#}
select
    cast(row_number() over (order by model_role, spike_def_id, target_rate, gain) - 1 as bigint) as condition_index,
    cast(model_role as string) as model_role,
    cast(spike_def_id as string) as spike_def_id,
    cast(target_rate as double) as target_rate,
    cast(gain as double) as gain,
    cast(n_sequences as bigint) as n_sequences,
    cast(n_layers as bigint) as n_layers,
    cast(seq_len as bigint) as seq_len
from {{ ref('int_condition_lattices') }}
order by condition_index
