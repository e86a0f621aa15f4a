{#- S7: S5 and S6 joined one-to-one on the site key, with the tile rectangle of S1. The point is the one
    S6 accepted; inside_tile re-checks it against the tile (gate S-S7-2). -#}
with assigned as (
    select * from {{ ref('s5_site_tile_assignment') }}
),

jittered as (
    select * from {{ ref('s6_site_jitter') }}
),

tiles as (
    select * from {{ ref('s1_tile_index') }}
)

select
    -- ids
    assigned.seed,
    assigned.merchant_id,
    assigned.legal_country_iso,
    assigned.site_order,
    assigned.tile_id,
    -- numerics
    jittered.lon_deg,
    jittered.lat_deg,
    jittered.lon_deg - tiles.centroid_lon as delta_lon_deg,
    jittered.lat_deg - tiles.centroid_lat as delta_lat_deg,
    -- booleans
    jittered.lon_deg between tiles.min_lon and tiles.max_lon
        and jittered.lat_deg between tiles.min_lat and tiles.max_lat as inside_tile,
    jittered.tile_id = assigned.tile_id as same_tile,
    -- lineage
    assigned.manifest_fingerprint
from assigned
left join jittered using (seed, merchant_id, legal_country_iso, site_order)
left join tiles
    on tiles.country_iso = assigned.legal_country_iso
    and tiles.tile_id = assigned.tile_id
order by assigned.seed, assigned.merchant_id, assigned.legal_country_iso, assigned.site_order
