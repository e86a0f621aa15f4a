{#- Per condition and sequence: occupied sites, their forward neighbours in time (t+1) and depth
    (l+1), the occupied sites that have such a neighbour inside the lattice, and the exact
    expectation of the pairs under the within-layer time-permutation null: with k occupied tokens
    of T in layer l, E[time pairs] = k (k - 1) / T and E[depth pairs between l and l+1] =
    k_l k_{l+1} / T (layers permuted independently); and the pairs of the circular-shift null
    realised by int_shift_null_layer_counts (docs block shift_null). -#}
with layer_counts as (
    {#- the Python model stores its key strings as ENUM: compare them as strings -#}
    select
        cast(model_role as string) as model_role,
        cast(spike_def_id as string) as spike_def_id,
        target_rate, gain, seq_id, layer, n_occupied, n_spikes, num_time, num_depth, n_occupied_time_valid,
        n_occupied_next_layer
    from {{ ref('int_raster_layer_counts') }}
),

lattices as (
    select * from {{ ref('int_condition_lattices') }}
),

shift_null as (
    select
        cast(model_role as string) as model_role,
        cast(spike_def_id as string) as spike_def_id,
        target_rate, gain, seq_id,
        sum(num_time_shift) as num_time_shift,
        sum(num_depth_shift) as num_depth_shift
    from {{ ref('int_shift_null_layer_counts') }}
    group by all
),

real_counts as (
    select
        model_role,
        spike_def_id,
        target_rate,
        gain,
        layer_counts.seq_id,
        sum(layer_counts.n_occupied) as n_occupied,
        sum(layer_counts.num_time) as num_time,
        sum(layer_counts.num_depth) as num_depth,
        sum(layer_counts.n_occupied_time_valid) as n_occupied_time_valid,
        coalesce(sum(layer_counts.n_occupied) filter (where layer_counts.layer < lattices.n_layers - 1), 0)
            as n_occupied_depth_valid,
        sum(layer_counts.n_spikes) as n_spikes,
        sum(layer_counts.n_occupied * (layer_counts.n_occupied - 1)) / any_value(lattices.seq_len) as num_time_perm,
        sum(layer_counts.n_occupied * layer_counts.n_occupied_next_layer) / any_value(lattices.seq_len) as num_depth_perm
    from layer_counts
    inner join lattices using (model_role, spike_def_id, target_rate, gain)
    group by all
)

select
    real_counts.*,
    coalesce(shift_null.num_time_shift, 0) as num_time_shift,
    coalesce(shift_null.num_depth_shift, 0) as num_depth_shift
from real_counts
left join shift_null using (model_role, spike_def_id, target_rate, gain, seq_id)
