with source as (
    select * from {{ ref('raw_geo__iso_codes') }}
)

select
    -- ids
    cast(country_iso as string) as country_iso,
    cast(iso3 as string) as iso3,
    -- strings
    cast(name as string) as name,
    cast(continent as string) as continent,
    -- numerics
    cast(population as bigint) as population
from source
