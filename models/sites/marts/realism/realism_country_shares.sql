{#- Companion table: each active country's share of the seed's sites, largest first. -#}
with counts as (
    select * from {{ ref('int_realism_country_counts') }}
),

countries as (
    select country_iso, macro_region from {{ ref('stg_geo__countries') }}
)

select
    counts.seed,
    row_number() over (partition by counts.seed order by counts.n_sites desc, counts.country_iso) as country_rank,
    counts.country_iso,
    countries.macro_region,
    counts.n_sites,
    counts.n_sites / sum(counts.n_sites) over (partition by counts.seed) as site_share
from counts
left join countries using (country_iso)
order by counts.seed, country_rank
