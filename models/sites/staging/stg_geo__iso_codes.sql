with source as (
    select * from {{ ref('raw_geo__iso_codes') }}
)

select
    -- ids
    cast(country_iso as varchar) as country_iso,
    cast(iso3 as varchar) as iso3,
    -- strings
    cast(name as varchar) as name,
    cast(continent as varchar) as continent,
    -- numerics
    cast(population as bigint) as population
from source
