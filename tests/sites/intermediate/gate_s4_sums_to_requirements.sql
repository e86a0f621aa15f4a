{{ config(meta={'gate': 'S-S4-3'}) }}
{#- Every pair's tile counts add up to its n_sites; no pair is missing or extra. -#}
with planned as (
    select merchant_id, legal_country_iso, sum(n_sites_tile) as planned_sites
    from {{ ref('s4_alloc_plan') }}
    group by all
)

select *
from planned
full outer join {{ ref('s3_requirements') }} as s3 using (merchant_id, legal_country_iso)
where planned.planned_sites is distinct from s3.n_sites
