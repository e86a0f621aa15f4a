with source as (
    select * from {{ ref('raw_geo__countries') }}
)

select
    -- ids
    cast(country_iso as varchar) as country_iso,
    cast(iso3 as varchar) as iso3,
    -- strings
    cast(name as varchar) as name,
    cast(region_un as varchar) as region_un,
    cast(subregion as varchar) as subregion,
    cast(macro_region as varchar) as macro_region,
    -- numerics
    cast(pop_est as double) as pop_est,
    cast(gdp_md as double) as gdp_md,
    -- geometry (WGS84 lon/lat, WKB)
    cast(geometry_wkb as blob) as geometry_wkb
from source
