{{ config(meta={'gate': 'S-S9-1'}) }}
{#- Key parity S3 <-> S5 <-> S8: per pair, required sites = assigned sites = published sites, and the
    site_order keys run 1..n in the egress (reference E901 missing / E902 extra). -#}
with assigned as (
    select merchant_id, legal_country_iso, count(*) as assigned_sites
    from {{ ref('s5_site_tile_assignment') }}
    group by all
),

published as (
    select merchant_id, legal_country_iso, count(*) as published_sites,
        min(site_order) as min_order, max(site_order) as max_order
    from {{ ref('site_locations') }}
    group by all
)

select *
from {{ ref('s3_requirements') }} as s3
full outer join assigned using (merchant_id, legal_country_iso)
full outer join published using (merchant_id, legal_country_iso)
where s3.n_sites is distinct from assigned.assigned_sites
    or s3.n_sites is distinct from published.published_sites
    or published.min_order is distinct from 1
    or published.max_order is distinct from s3.n_sites
