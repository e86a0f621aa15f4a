{{ config(meta={'gate': 'S-S4-4'}) }}
{#- Every planned tile is a tile of the pair's country with positive weight (FK to S2). -#}
select plan.*
from {{ ref('s4_alloc_plan') }} as plan
left join {{ ref('s2_tile_weights') }} as weights
    on weights.country_iso = plan.legal_country_iso
    and weights.tile_id = plan.tile_id
where weights.weight_fp is null or weights.weight_fp <= 0
