{#- Eligible countries: the populated countries with at least one tile (this build's S1 index, or the
    tiles parquet of var realism_tiles_path), denylist removed. The denominator of
    eligible_country_nonzero_share and the country set of plausibility check P-2.
    Populated is a data-driven rule, not a list: GeoNames country population (stg_geo__iso_codes) of at
    least populated_min_population (seed plausibility_parameters, 500). Uninhabited territories that
    still have a polygon and tiles (AQ, BV, HM, UM, GS, PN, TF in GeoNames) are therefore neither
    eligible nor expected to be active; check P-1 counts any site placed in one. -#}
{%- set tiles_path = input_var('realism_tiles_path') -%}
with tiles as (
    {% if tiles_path %}
    select distinct cast(country_iso as string) as country_iso from {{ parquet_file(tiles_path) }}
    {% else %}
    select distinct country_iso from {{ ref('s1_tile_index') }}
    {% endif %}
),

countries as (
    select country_iso, population from {{ ref('stg_geo__iso_codes') }}
),

parameters as (
    select max(value) filter (where parameter = 'populated_min_population') as populated_min_population
    from {{ ref('plausibility_parameters') }}
),

denylist as (
    select {{ json_string_array_elements('values_json', 'denylist') }} as country_iso
    from {{ ref('raw_policy__requirements') }}
),

populated as (
    select countries.country_iso
    from countries
    cross join parameters
    where countries.population >= parameters.populated_min_population
)

select tiles.country_iso
from tiles
inner join populated using (country_iso)
where tiles.country_iso not in (select country_iso from denylist)
