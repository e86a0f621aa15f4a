{#- The sites a scorecard grades, one row per (seed, site), denylisted countries removed (as the
    reference scorers do). From this build's site_locations, or from any site_locations parquet
    given as var realism_site_locations_path (`gatehouse sites score`); a file without a seed column
    takes var realism_external_seed. -#}
{%- set external_path = input_var('realism_site_locations_path') -%}
with
{% if external_path %}
external_sites as (
    {{ typed_parquet(external_path, {'seed': seed_type(), 'merchant_id': 'bigint', 'legal_country_iso': 'string',
                                     'site_order': 'integer', 'lon_deg': 'double', 'lat_deg': 'double'}) }}
),

sites as (
    select
        coalesce(seed, {{ input_var('realism_external_seed') | int }}) as seed,
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
    select {{ json_string_array_elements('values_json', 'denylist') }} as country_iso
    from {{ ref('raw_policy__requirements') }}
)

select
    cast(seed as {{ seed_type() }}) as seed,
    cast(merchant_id as bigint) as merchant_id,
    cast(legal_country_iso as string) as legal_country_iso,
    cast(site_order as integer) as site_order,
    cast(lon_deg as double) as lon_deg,
    cast(lat_deg as double) as lat_deg
from sites
where legal_country_iso not in (select country_iso from denylist)
