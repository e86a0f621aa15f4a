{#- Per condition and sequence: occupied sites and their forward neighbours in time (t+1) and
    depth (l+1), plus the occupied sites that have such a neighbour inside the lattice. -#}
with rasters as (
    select * from {{ ref('int_rasters') }}
),

lattices as (
    select * from {{ ref('int_condition_lattices') }}
)

select
    site.model_role,
    site.spike_def_id,
    site.target_rate,
    site.gain,
    site.seq_id,
    count(*) as n_occupied,
    count(next_token.token) as num_time,
    count(next_layer.token) as num_depth,
    count(*) filter (where site.token < lattices.seq_len - 1) as n_occupied_time_valid,
    count(*) filter (where site.layer < lattices.n_layers - 1) as n_occupied_depth_valid,
    sum(site.a) as n_spikes
from rasters as site
inner join lattices using (model_role, spike_def_id, target_rate, gain)
left join rasters as next_token
    on {{ same_condition_and_sequence('site', 'next_token') }}
    and next_token.layer = site.layer
    and next_token.token = site.token + 1
left join rasters as next_layer
    on {{ same_condition_and_sequence('site', 'next_layer') }}
    and next_layer.layer = site.layer + 1
    and next_layer.token = site.token
group by all
