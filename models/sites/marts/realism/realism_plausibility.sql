{#- Plausibility checks P-1..P-4 of each seed's placement (docs block `realism_plausibility`), apart from
    the B/B+ realism gates: one row per (seed, check_id) with the metric, its threshold (seed
    plausibility_checks) and whether it passes; `detail` says where the value comes from. A metric that
    cannot be computed (null or NaN) fails. Parameters: seed plausibility_parameters. -#}
with sites as (
    select * from {{ ref('int_realism_sites') }}
),

counts as (
    select * from {{ ref('int_realism_country_counts') }}
),

eligible as (
    select * from {{ ref('int_realism_eligible_countries') }}
),

countries as (
    select country_iso, population from {{ ref('stg_geo__iso_codes') }}
),

site_distances as (
    select * from {{ ref('realism_site_place_distances') }}
),

urban_balance as (
    select * from {{ ref('realism_urban_balance') }}
),

checks as (
    select * from {{ ref('plausibility_checks') }}
),

parameters as (
    select
        max(value) filter (where parameter = 'populated_min_population') as populated_min_population,
        max(value) filter (where parameter = 'radius_m') as radius_m,
        max(value) filter (where parameter = 'urban_min_sites') as urban_min_sites
    from {{ ref('plausibility_parameters') }}
),

seeds as (
    select distinct seed from sites
),

-- P-1: sites in territories below the populated minimum (a code without a population counts as 0)
unpopulated_sites as (
    select counts.seed, counts.country_iso, counts.n_sites
    from counts
    left join countries using (country_iso)
    cross join parameters
    where coalesce(countries.population, 0) < parameters.populated_min_population
),

p1 as (
    select
        seeds.seed,
        'P-1' as check_id,
        coalesce(sum(unpopulated_sites.n_sites), 0)::double as metric_value,
        coalesce({{ ordered_string_agg("unpopulated_sites.country_iso || ' ' || unpopulated_sites.n_sites", "', '",
            'unpopulated_sites.country_iso') }}, 'none') as detail
    from seeds
    left join unpopulated_sites on unpopulated_sites.seed = seeds.seed
    group by seeds.seed
),

-- P-2: Spearman = Pearson correlation of average ranks (rank + (ties - 1) / 2), eligible countries
-- without sites counting 0. From sums of ranks and their products: those are multiples of 1/4 well
-- below 2^53, so every sum is exact and the value does not depend on row order (corr() can move by 1 ulp).
eligible_sites as (
    select
        seeds.seed,
        eligible.country_iso,
        coalesce(counts.n_sites, 0) as n_sites,
        countries.population
    from seeds
    cross join eligible
    inner join countries on countries.country_iso = eligible.country_iso
    left join counts on counts.seed = seeds.seed and counts.country_iso = eligible.country_iso
),

ranked as (
    select
        seed,
        n_sites,
        rank() over (partition by seed order by n_sites)
            + (count(*) over (partition by seed, n_sites) - 1) / 2 as site_rank,
        rank() over (partition by seed order by population)
            + (count(*) over (partition by seed, population) - 1) / 2 as population_rank
    from eligible_sites
),

p2 as (
    select
        seeds.seed,
        'P-2' as check_id,
        (count(ranked.seed) * sum(ranked.site_rank * ranked.population_rank)
            - sum(ranked.site_rank) * sum(ranked.population_rank))
            / sqrt(nullif(
                (count(ranked.seed) * sum(power(ranked.site_rank, 2)) - power(sum(ranked.site_rank), 2))
                * (count(ranked.seed) * sum(power(ranked.population_rank, 2)) - power(sum(ranked.population_rank), 2)), 0))
            as metric_value,
        count(ranked.seed) || ' eligible countries, ' || count(*) filter (where ranked.n_sites = 0)
            || ' without sites' as detail
    from seeds
    left join ranked on ranked.seed = seeds.seed
    group by seeds.seed
),

-- P-3: the largest urban/rural gap over the countries of realism_urban_balance
worst_country as (
    select
        *,
        row_number() over (partition by seed order by gap desc nulls first, country_iso) as gap_order,
        count(*) over (partition by seed) as n_countries
    from urban_balance
),

p3 as (
    select
        seeds.seed,
        'P-3' as check_id,
        case when bool_or(worst_country.gap is null) then null else max(worst_country.gap) end as metric_value,
        coalesce(
            any_value(printf('%s (of %d countries): site_share %.4f, population_share %.4f',
                worst_country.country_iso, worst_country.n_countries, worst_country.site_share,
                worst_country.population_share)) filter (where worst_country.gap_order = 1),
            'no country with >= ' || any_value(parameters.urban_min_sites)::bigint || ' sites'
        ) as detail
    from seeds
    left join worst_country on worst_country.seed = seeds.seed
    cross join parameters
    group by seeds.seed
),

-- P-4: share of sites within radius_m of any GeoNames place
p4 as (
    select
        seeds.seed,
        'P-4' as check_id,
        count(*) filter (where site_distances.nearest_place_m <= parameters.radius_m)
            / nullif(count(site_distances.seed), 0) as metric_value,
        count(*) filter (where site_distances.nearest_place_m <= parameters.radius_m) || ' of '
            || count(site_distances.seed) || ' sites within ' || any_value(parameters.radius_m)::bigint
            || ' m of a place' as detail
    from seeds
    left join site_distances on site_distances.seed = seeds.seed
    cross join parameters
    group by seeds.seed
),

measured as (
    select seed, check_id, metric_value::double as metric_value, detail from p1
    union all
    select seed, check_id, metric_value::double, detail from p2
    union all
    select seed, check_id, metric_value::double, detail from p3
    union all
    select seed, check_id, metric_value::double, detail from p4
)

select
    measured.seed,
    measured.check_id,
    checks.metric,
    measured.metric_value,
    checks.comparison,
    checks.threshold,
    {{ passes_threshold('measured.metric_value', 'checks.comparison', 'checks.threshold') }} as passed,
    measured.detail
from measured
inner join checks using (check_id)
order by measured.seed, measured.check_id
