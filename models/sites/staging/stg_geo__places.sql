with source as (
    select * from {{ ref('raw_geo__places') }}
)

select
    -- ids
    cast(geonameid as bigint) as geonameid,
    cast(country_iso as string) as country_iso,
    -- strings
    cast(name as string) as name,
    -- numerics
    cast(lon_deg as double) as lon_deg,
    cast(lat_deg as double) as lat_deg,
    cast(population as bigint) as population
from source
