with source as (
    select * from {{ ref('raw_1a__outlet_catalogue') }}
)

select
    -- ids
    cast(seed as {{ seed_type() }}) as seed,
    cast(merchant_id as bigint) as merchant_id,
    cast(home_country_iso as string) as home_country_iso,
    cast(legal_country_iso as string) as legal_country_iso,
    -- numerics
    cast(site_order as integer) as site_order,
    -- lineage of the 1A run the catalogue came from (constant; null for the surrogate)
    cast(upstream_manifest_fingerprint as string) as upstream_manifest_fingerprint,
    cast(upstream_seed as string) as upstream_seed
from source
