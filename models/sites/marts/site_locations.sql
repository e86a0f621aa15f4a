{#- S8 egress: one row per site and seed, PK (merchant_id, legal_country_iso, site_order) within a seed;
    `seed` is the partition column (with manifest_fingerprint, which lives in s0_gate_receipt and the
    run's validation bundle). Order-free by contract; stored in key order so exports are byte-stable. -#}
with synthesis as (
    select * from {{ ref('s7_site_synthesis') }}
)

select
    -- partition
    seed,
    -- ids
    merchant_id,
    legal_country_iso,
    site_order,
    -- numerics
    lon_deg,
    lat_deg
from synthesis
order by seed, merchant_id, legal_country_iso, site_order
