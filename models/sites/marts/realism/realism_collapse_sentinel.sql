{#- Stripe/corridor collapse sentinel (reference §2): for each seed's top 10 countries by sites (those
    with >= 50 sites), the eigenvalues of the 2x2 (lon, lat) covariance in degrees, anisotropy =
    sqrt(lmax/lmin) (infinite when lmin <= 1e-12), linearity = lmax/(lmax+lmin), and the share of
    distinct lat/lon values at 4 dp. Flagged: (anisotropy > 12 and linearity > 0.98) or a unique
    ratio below 0.15. -#}
with sites as (
    select * from {{ ref('int_realism_sites') }}
),

top_countries as (
    select seed, country_iso, n_sites
    from {{ ref('realism_country_shares') }}
    where country_rank <= 10 and n_sites >= 50
),

moments as (
    select
        sites.seed,
        sites.legal_country_iso as country_iso,
        count(*) as n_sites,
        -- fed in key order: unordered, the float moments change in the last bits with thread scheduling
        var_pop(sites.lon_deg {{ aggregate_input_order('sites.merchant_id, sites.site_order') }}) as var_lon,
        var_pop(sites.lat_deg {{ aggregate_input_order('sites.merchant_id, sites.site_order') }}) as var_lat,
        covar_pop(sites.lon_deg, sites.lat_deg {{ aggregate_input_order('sites.merchant_id, sites.site_order') }})
            as cov_lon_lat,
        count(distinct round(sites.lat_deg, 4)) / count(*) as lat_unique_ratio,
        count(distinct round(sites.lon_deg, 4)) / count(*) as lon_unique_ratio
    from sites
    inner join top_countries
        on top_countries.seed = sites.seed and top_countries.country_iso = sites.legal_country_iso
    group by all
),

eigen as (
    select
        *,
        (var_lon + var_lat) / 2 + sqrt(power((var_lon - var_lat) / 2, 2) + power(cov_lon_lat, 2)) as lambda_max,
        (var_lon + var_lat) / 2 - sqrt(power((var_lon - var_lat) / 2, 2) + power(cov_lon_lat, 2)) as lambda_min
    from moments
),

measured as (
    select
        *,
        case when lambda_min <= 1e-12 then 'infinity'::double else sqrt(lambda_max / lambda_min) end as anisotropy,
        lambda_max / nullif(lambda_max + lambda_min, 0) as linearity
    from eigen
)

select
    *,
    (anisotropy > 12 and coalesce(linearity, 1) > 0.98)
        or lat_unique_ratio < 0.15
        or lon_unique_ratio < 0.15 as collapse_flagged
from measured
order by seed, n_sites desc, country_iso
