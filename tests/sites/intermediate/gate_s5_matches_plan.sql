{{ config(meta={'gate': 'S-S5-2'}) }}
{#- S5 only permutes sites over the S4 multiset: per seed, the sites per (pair, tile) equal n_sites_tile. -#}
with assigned as (
    select seed, merchant_id, legal_country_iso, tile_id, count(*) as assigned_sites
    from {{ ref('s5_site_tile_assignment') }}
    group by all
)

select *
from assigned
full outer join {{ ref('s4_alloc_plan') }} as plan using (seed, merchant_id, legal_country_iso, tile_id)
where assigned.assigned_sites is distinct from plan.n_sites_tile
