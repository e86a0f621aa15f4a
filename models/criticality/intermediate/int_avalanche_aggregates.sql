{#- Per condition: the §8 aggregates over every component of every sequence, for the 4-neighbour
    avalanches (the reference's) and the 8-neighbour ones (robustness). A condition without components
    has 0 avalanches and aggregates 0, as in the reference. Docs block `avalanches`. -#}
with avalanches as (
    {#- the Python model stores its key strings as ENUM: compare them as strings -#}
    select
        cast(model_role as string) as model_role,
        cast(spike_def_id as string) as spike_def_id,
        target_rate,
        gain,
        cast(adjacency as string) as adjacency,
        size,
        span_tokens,
        span_layers
    from {{ ref('avalanches') }}
),

lattices as (
    select model_role, spike_def_id, target_rate, gain from {{ ref('int_condition_lattices') }}
),

by_adjacency as (
    select
        model_role, spike_def_id, target_rate, gain, adjacency,
        count(*) as n_avalanches,
        avg(size) as avalanche_size_mean,
        median(size) as avalanche_size_median,
        avg(span_tokens) as avalanche_span_tokens_mean,
        avg(span_layers) as avalanche_span_layers_mean
    from avalanches
    group by all
),

four as (select * from by_adjacency where adjacency = '4N'),

eight as (select * from by_adjacency where adjacency = '8N')

select
    lattices.model_role,
    lattices.spike_def_id,
    lattices.target_rate,
    lattices.gain,
    coalesce(four.n_avalanches, 0) as n_avalanches,
    coalesce(four.avalanche_size_mean, 0) as avalanche_size_mean,
    coalesce(four.avalanche_size_median, 0) as avalanche_size_median,
    coalesce(four.avalanche_span_tokens_mean, 0) as avalanche_span_tokens_mean,
    coalesce(four.avalanche_span_layers_mean, 0) as avalanche_span_layers_mean,
    coalesce(eight.n_avalanches, 0) as n_avalanches_8n,
    coalesce(eight.avalanche_size_mean, 0) as avalanche_size_mean_8n,
    coalesce(eight.avalanche_size_median, 0) as avalanche_size_median_8n,
    coalesce(eight.avalanche_span_tokens_mean, 0) as avalanche_span_tokens_mean_8n,
    coalesce(eight.avalanche_span_layers_mean, 0) as avalanche_span_layers_mean_8n
from lattices
left join four using (model_role, spike_def_id, target_rate, gain)
left join eight using (model_role, spike_def_id, target_rate, gain)
