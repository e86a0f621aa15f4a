{{ config(meta={'gate': 'C-RS-1'}) }}
{#- The compiled pass 2 (int_raster_layer_counts) and the SQL definition of the rasters
    (int_rasters) must give the same occupied sites, spikes and neighbour pairs per condition,
    sequence and layer. Returns the (condition, sequence, layer) rows where they differ. -#}
with sql_rasters as (
    select * from {{ ref('int_rasters') }}
),

lattices as (
    select * from {{ ref('int_condition_lattices') }}
),

neighbours as (
    select
        site.model_role,
        site.spike_def_id,
        site.target_rate,
        site.gain,
        site.seq_id,
        site.layer,
        count(*) as n_occupied,
        sum(site.a) as n_spikes,
        count(next_token.a) as num_time,
        count(next_layer.a) as num_depth,
        count(*) filter (where site.token < lattices.seq_len - 1) as n_occupied_time_valid
    from sql_rasters as site
    inner join lattices using (model_role, spike_def_id, target_rate, gain)
    left join sql_rasters as next_token
        on {{ same_condition_and_sequence('site', 'next_token') }}
        and next_token.layer = site.layer
        and next_token.token = site.token + 1
    left join sql_rasters as next_layer
        on {{ same_condition_and_sequence('site', 'next_layer') }}
        and next_layer.layer = site.layer + 1
        and next_layer.token = site.token
    group by all
),

expected as (
    select
        *,
        case when lead(layer) over sequence_layers = layer + 1 then lead(n_occupied) over sequence_layers else 0 end
            as n_occupied_next_layer
    from neighbours
    window sequence_layers as (partition by model_role, spike_def_id, target_rate, gain, seq_id order by layer)
),

compiled as (
    select
        cast(model_role as string) as model_role,
        cast(spike_def_id as string) as spike_def_id,
        target_rate, gain, seq_id, layer, n_occupied, n_spikes, num_time, num_depth, n_occupied_time_valid,
        n_occupied_next_layer
    from {{ ref('int_raster_layer_counts') }}
)

select
    model_role, spike_def_id, target_rate, gain, seq_id, layer,
    expected.n_occupied as sql_n_occupied, compiled.n_occupied as compiled_n_occupied,
    expected.n_spikes as sql_n_spikes, compiled.n_spikes as compiled_n_spikes
from expected
full outer join compiled using (model_role, spike_def_id, target_rate, gain, seq_id, layer)
where expected.n_occupied is distinct from compiled.n_occupied
    or expected.n_spikes is distinct from compiled.n_spikes
    or expected.num_time is distinct from compiled.num_time
    or expected.num_depth is distinct from compiled.num_depth
    or expected.n_occupied_time_valid is distinct from compiled.n_occupied_time_valid
    or expected.n_occupied_next_layer is distinct from compiled.n_occupied_next_layer
