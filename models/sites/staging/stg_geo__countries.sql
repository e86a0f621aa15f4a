with source as (
    select * from {{ ref('raw_geo__countries') }}
)

select
    -- ids
    cast(country_iso as string) as country_iso,
    cast(iso3 as string) as iso3,
    -- strings
    cast(name as string) as name,
    cast(region_un as string) as region_un,
    cast(subregion as string) as subregion,
    cast(macro_region as string) as macro_region,
    -- numerics
    cast(pop_est as double) as pop_est,
    cast(gdp_md as double) as gdp_md,
    -- geometry (WGS84 lon/lat, WKB)
    cast(geometry_wkb as binary) as geometry_wkb
from source
