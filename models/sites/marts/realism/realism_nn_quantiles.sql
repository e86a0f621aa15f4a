{#- Companion table: nearest-neighbour distance quantiles (numpy-linear, macro continuous_quantiles), over all
    sites of a seed (scope 'all') and per country for the seed's top 20 countries by site count. -#}
with distances as (
    select * from {{ ref('realism_nn_distances') }}
),

top_countries as (
    select seed, country_iso from {{ ref('realism_country_shares') }} where country_rank <= 20
),

scoped as (
    select seed, 'all' as scope, nn_m from distances
    union all
    select distances.seed, distances.legal_country_iso, distances.nn_m
    from distances
    inner join top_countries
        on top_countries.seed = distances.seed and top_countries.country_iso = distances.legal_country_iso
),

quantiles as (
    select seed, scope, count(*) as n_sites,
        {{ continuous_quantiles('nn_m', [0.5, 0.75, 0.9, 0.95, 0.99]) }} as q
    from scoped
    group by all
)

select
    seed,
    scope,
    n_sites,
    {{ list_item('q', 1) }} as nn_p50_m,
    {{ list_item('q', 2) }} as nn_p75_m,
    {{ list_item('q', 3) }} as nn_p90_m,
    {{ list_item('q', 4) }} as nn_p95_m,
    {{ list_item('q', 5) }} as nn_p99_m,
    case when {{ list_item('q', 1) }} > 0 then {{ list_item('q', 5) }} / {{ list_item('q', 1) }} else 0 end
        as nn_p99_p50_ratio
from quantiles
order by seed, scope = 'all' desc, scope
