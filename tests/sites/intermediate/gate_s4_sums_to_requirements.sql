{{ config(meta={'gate': 'S-S4-3'}) }}
{#- For every seed, every pair's tile counts add up to its n_sites; no pair is missing or extra. -#}
with planned as (
    select seed, merchant_id, legal_country_iso, sum(n_sites_tile) as planned_sites
    from {{ ref('s4_alloc_plan') }}
    group by all
),

required as (
    select seed, merchant_id, legal_country_iso, n_sites
    from {{ ref('s3_requirements') }}
)

select *
from planned
full outer join required using (seed, merchant_id, legal_country_iso)
where planned.planned_sites is distinct from required.n_sites
