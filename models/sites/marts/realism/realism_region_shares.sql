{#- Companion table: share of each seed's sites per macro region (Africa, Asia, Europe, North America,
    South America, Oceania, Other). -#}
with shares as (
    select * from {{ ref('realism_country_shares') }}
)

select
    seed,
    coalesce(macro_region, 'Other') as macro_region,
    sum(n_sites) as n_sites,
    sum(site_share) as site_share
from shares
group by all
order by seed, site_share desc, macro_region
