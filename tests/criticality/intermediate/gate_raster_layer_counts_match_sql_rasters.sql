{{ config(meta={'gate': 'C-RS-1'}) }}
{#- The compiled pass 2 (int_raster_layer_counts) and the SQL definition of the rasters
    (int_rasters, stored once as int_raster_sites) must give the same occupied sites, spikes and
    neighbour pairs per condition, sequence and layer. Returns the (condition, sequence, layer) rows
    where they differ.
    Each site gets one integer key, (((condition * sequences + seq) * layers + layer) * tokens + token
    over the offsets from the smallest seq_id, layer and token, with layer and token strides two above
    their largest offset, so the time neighbour of a site is key + 1 and its depth neighbour
    key + tokens, never a site of another row: two joins on one integer instead of on seven columns.
    The strides are 64-bit so the key of 32-bit sites cannot overflow. -#}
with sites as (
    select * from {{ ref('int_raster_sites') }}
),

conditions as (
    select * from {{ ref('int_raster_conditions') }}
),

strides as (
    select
        min(seq_id) as first_seq, cast(max(seq_id) - min(seq_id) + 1 as bigint) as sequences,
        min(layer) as first_layer, cast(max(layer) - min(layer) + 2 as bigint) as layers,
        min(token) as first_token, cast(max(token) - min(token) + 2 as bigint) as tokens
    from sites
),

keyed_sites as (
    select
        sites.condition_index,
        sites.seq_id,
        sites.layer,
        sites.token,
        sites.a,
        conditions.seq_len,
        strides.tokens,
        ((sites.condition_index * strides.sequences + sites.seq_id - strides.first_seq) * strides.layers
            + sites.layer - strides.first_layer) * strides.tokens + sites.token - strides.first_token as site_key
    from sites
    inner join conditions using (condition_index)
    cross join strides
),

site_keys as (
    select site_key from keyed_sites
),

neighbours as (
    select
        site.condition_index,
        site.seq_id,
        site.layer,
        count(*) as n_occupied,
        sum(site.a) as n_spikes,
        count(next_token.site_key) as num_time,
        count(next_layer.site_key) as num_depth,
        count(*) filter (where site.token < site.seq_len - 1) as n_occupied_time_valid
    from keyed_sites as site
    left join site_keys as next_token
        on next_token.site_key = site.site_key + 1
    left join site_keys as next_layer
        on next_layer.site_key = site.site_key + site.tokens
    group by all
),

expected as (
    select
        conditions.model_role,
        conditions.spike_def_id,
        conditions.target_rate,
        conditions.gain,
        neighbours.*,
        case when lead(neighbours.layer) over sequence_layers = neighbours.layer + 1
            then lead(neighbours.n_occupied) over sequence_layers else 0 end as n_occupied_next_layer
    from neighbours
    inner join conditions using (condition_index)
    window sequence_layers as (partition by neighbours.condition_index, neighbours.seq_id order by neighbours.layer)
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
