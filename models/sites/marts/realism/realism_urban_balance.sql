{#- Plausibility P-3 per country (docs block `realism_plausibility`): per seed, the urban_top_countries
    most populous countries (GeoNames country population) among those with >= urban_min_sites sites.
    site_share = share of the country's sites within radius_m of a city of that country (GeoNames place
    with >= city_min_population); population_share = share of the population of its places with
    >= place_min_population that live within radius_m of such a city (a city is 0 m from itself);
    gap = |site_share - population_share|. Parameters: seed plausibility_parameters. -#}
with counts as (
    select * from {{ ref('int_realism_country_counts') }}
),

countries as (
    select country_iso, population from {{ ref('stg_geo__iso_codes') }}
),

site_distances as (
    select * from {{ ref('realism_site_place_distances') }}
),

place_distances as (
    select * from {{ ref('realism_place_city_distances') }}
),

parameters as (
    select
        max(value) filter (where parameter = 'radius_m') as radius_m,
        max(value) filter (where parameter = 'urban_min_sites') as urban_min_sites,
        max(value) filter (where parameter = 'urban_top_countries') as urban_top_countries,
        max(value) filter (where parameter = 'place_min_population') as place_min_population
    from {{ ref('plausibility_parameters') }}
),

candidates as (
    select
        counts.seed,
        counts.country_iso,
        countries.population as country_population,
        counts.n_sites,
        row_number() over (
            partition by counts.seed order by countries.population desc, counts.country_iso
        ) as population_rank
    from counts
    inner join countries using (country_iso)
    cross join parameters
    where counts.n_sites >= parameters.urban_min_sites
),

top_countries as (
    select candidates.*
    from candidates
    cross join parameters
    where candidates.population_rank <= parameters.urban_top_countries
),

site_shares as (
    select
        top_countries.seed,
        top_countries.country_iso,
        count(*) filter (where site_distances.nearest_city_m <= parameters.radius_m) as n_sites_near_city
    from top_countries
    inner join site_distances
        on site_distances.seed = top_countries.seed and site_distances.legal_country_iso = top_countries.country_iso
    cross join parameters
    group by all
),

population_shares as (
    select
        place_distances.country_iso,
        sum(place_distances.population)::bigint as place_population,
        coalesce(sum(place_distances.population) filter (where place_distances.nearest_city_m <= parameters.radius_m), 0)::bigint
            as population_near_city
    from place_distances
    cross join parameters
    where place_distances.population >= parameters.place_min_population
        and place_distances.country_iso in (select country_iso from top_countries)
    group by all
),

shares as (
    select
        top_countries.seed,
        top_countries.population_rank,
        top_countries.country_iso,
        top_countries.country_population,
        top_countries.n_sites,
        coalesce(site_shares.n_sites_near_city, 0) as n_sites_near_city,
        coalesce(site_shares.n_sites_near_city, 0) / top_countries.n_sites as site_share,
        population_shares.place_population,
        population_shares.population_near_city,
        population_shares.population_near_city / nullif(population_shares.place_population, 0) as population_share
    from top_countries
    left join site_shares using (seed, country_iso)
    left join population_shares using (country_iso)
)

select
    *,
    abs(site_share - population_share) as gap
from shares
order by seed, population_rank
