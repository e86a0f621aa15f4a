{#- S8 egress: one row per site, PK (merchant_id, legal_country_iso, site_order). Order-free by contract;
    stored in PK order so the exported parquet is byte-stable. Lineage (seed, manifest_fingerprint) lives
    in s0_gate_receipt and the run's validation bundle. -#}
with synthesis as (
    select * from {{ ref('s7_site_synthesis') }}
)

select
    -- ids
    merchant_id,
    legal_country_iso,
    site_order,
    -- numerics
    lon_deg,
    lat_deg
from synthesis
order by merchant_id, legal_country_iso, site_order
