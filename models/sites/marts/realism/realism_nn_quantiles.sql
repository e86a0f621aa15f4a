{#- Companion table: nearest-neighbour distance quantiles (numpy-linear = quantile_cont), over all
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
        quantile_cont(nn_m, [0.5, 0.75, 0.9, 0.95, 0.99]) as q
    from scoped
    group by all
)

select
    seed,
    scope,
    n_sites,
    q[1] as nn_p50_m,
    q[2] as nn_p75_m,
    q[3] as nn_p90_m,
    q[4] as nn_p95_m,
    q[5] as nn_p99_m,
    case when q[1] > 0 then q[5] / q[1] else 0 end as nn_p99_p50_ratio
from quantiles
order by seed, scope = 'all' desc, scope
