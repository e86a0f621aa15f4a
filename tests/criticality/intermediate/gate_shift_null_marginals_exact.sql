{{ config(meta={'gate': 'C-NL-2'}) }}
{#- The circular-shift null keeps every layer's values: per (condition, sequence, layer) the shifted
    row the kernel built has the occupied sites, spikes and squared spikes of the raster's row
    (int_raster_sites), and no layer is missing on either side. Returns the rows that differ. -#}
with raster_layers as (
    select
        conditions.model_role,
        conditions.spike_def_id,
        conditions.target_rate,
        conditions.gain,
        sites.seq_id,
        sites.layer,
        count(*) as n_occupied,
        sum(sites.a) as n_spikes,
        sum(cast(sites.a as bigint) * sites.a) as sum_sq_spikes
    from {{ ref('int_raster_sites') }} as sites
    inner join {{ ref('int_raster_conditions') }} as conditions using (condition_index)
    group by all
),

shifted_layers as (
    select
        cast(model_role as string) as model_role,
        cast(spike_def_id as string) as spike_def_id,
        target_rate, gain, seq_id, layer, n_occupied_shift, n_spikes_shift, sum_sq_spikes_shift
    from {{ ref('int_shift_null_layer_counts') }}
)

select *
from raster_layers
full outer join shifted_layers using (model_role, spike_def_id, target_rate, gain, seq_id, layer)
where raster_layers.n_occupied is distinct from shifted_layers.n_occupied_shift
    or raster_layers.n_spikes is distinct from shifted_layers.n_spikes_shift
    or raster_layers.sum_sq_spikes is distinct from shifted_layers.sum_sq_spikes_shift
