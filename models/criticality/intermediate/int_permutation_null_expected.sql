{#- Exact expectation of the within-layer time-permutation null per condition and sequence:
    with k occupied tokens of T in layer l, E[time pairs] = k (k - 1) / T and
    E[depth pairs between l and l+1] = k_l k_{l+1} / T (layers permuted independently). -#}
with rasters as (
    select * from {{ ref('int_rasters') }}
),

lattices as (
    select * from {{ ref('int_condition_lattices') }}
),

layer_occupancy as (
    select model_role, spike_def_id, target_rate, gain, seq_id, layer, count(*) as k
    from rasters
    group by all
)

select
    layer.model_role,
    layer.spike_def_id,
    layer.target_rate,
    layer.gain,
    layer.seq_id,
    sum(layer.k * (layer.k - 1)) / any_value(lattices.seq_len) as num_time_perm,
    coalesce(sum(layer.k * above.k), 0) / any_value(lattices.seq_len) as num_depth_perm
from layer_occupancy as layer
inner join lattices using (model_role, spike_def_id, target_rate, gain)
left join layer_occupancy as above
    on {{ same_condition_and_sequence('layer', 'above') }}
    and above.layer = layer.layer + 1
group by all
