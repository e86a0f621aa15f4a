{{ config(meta={'gate': 'S-S9-1'}) }}
{#- Key parity S3 <-> S5 <-> S8 for every seed: per pair, required sites = assigned sites = published
    sites, and the site_order keys run 1..n in the egress (reference E901 missing / E902 extra). -#}
with required as (
    select seed, merchant_id, legal_country_iso, n_sites
    from {{ ref('s3_requirements') }}
),

assigned as (
    select seed, merchant_id, legal_country_iso, count(*) as assigned_sites
    from {{ ref('s5_site_tile_assignment') }}
    group by all
),

published as (
    select seed, merchant_id, legal_country_iso, count(*) as published_sites,
        min(site_order) as min_order, max(site_order) as max_order
    from {{ ref('site_locations') }}
    group by all
)

select *
from required
full outer join assigned using (seed, merchant_id, legal_country_iso)
full outer join published using (seed, merchant_id, legal_country_iso)
where required.n_sites is distinct from assigned.assigned_sites
    or required.n_sites is distinct from published.published_sites
    or published.min_order is distinct from 1
    or published.max_order is distinct from required.n_sites
