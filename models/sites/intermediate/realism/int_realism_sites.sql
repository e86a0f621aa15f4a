{#- The sites a scorecard grades, one row per (seed, site), denylisted countries removed (as the
    reference scorers do). From this build's site_locations, or from any site_locations parquet
    given as var realism_site_locations_path (`gatehouse sites score`); a file without a seed column
    takes var realism_external_seed. -#}
{%- set external_path = var('realism_site_locations_path') -%}
with
{% if external_path %}
external_sites as (
    {{ typed_parquet(external_path, {'seed': 'ubigint', 'merchant_id': 'bigint', 'legal_country_iso': 'varchar',
                                     'site_order': 'integer', 'lon_deg': 'double', 'lat_deg': 'double'}) }}
),

sites as (
    select
        coalesce(seed, {{ var('realism_external_seed') | int }})::ubigint as seed,
        merchant_id, legal_country_iso, site_order, lon_deg, lat_deg
    from external_sites
),
{% else %}
sites as (
    select seed, merchant_id, legal_country_iso, site_order, lon_deg, lat_deg
    from {{ ref('site_locations') }}
),
{% endif %}

denylist as (
    select unnest(from_json(values_json::json -> 'denylist', '["VARCHAR"]')) as country_iso
    from {{ ref('raw_policy__requirements') }}
)

select
    cast(seed as ubigint) as seed,
    cast(merchant_id as bigint) as merchant_id,
    cast(legal_country_iso as varchar) as legal_country_iso,
    cast(site_order as integer) as site_order,
    cast(lon_deg as double) as lon_deg,
    cast(lat_deg as double) as lat_deg
from sites
where legal_country_iso not in (select country_iso from denylist)
