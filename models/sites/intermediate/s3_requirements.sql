{#- S3: sites per (merchant_id, legal_country_iso) after the policy denylist. Bad input stops the build
    here with a named error (macro raise_error): E301 site_order not 1..n, E302 code outside the ISO list,
    E303 a country with sites but no tiles. The staging loader already refuses E301/E302 for user files;
    these guards keep the state honest on its own. -#}
with catalogue as (
    select * from {{ ref('stg_1a__outlet_catalogue') }}
),

receipt as (
    select manifest_fingerprint, parameter_hash from {{ ref('s0_gate_receipt') }}
),

denylist as (
    select {{ json_string_array_elements('values_json', 'denylist') }} as country_iso
    from {{ ref('raw_policy__requirements') }}
),

iso_codes as (
    select country_iso from {{ ref('stg_geo__iso_codes') }}
),

tiled as (
    select distinct country_iso from {{ ref('s2_tile_weights') }}
),

pairs as (
    select
        seed,
        merchant_id,
        legal_country_iso,
        count(*) as n_sites,
        min(site_order) as min_site_order,
        max(site_order) as max_site_order,
        count(distinct site_order) as distinct_site_orders
    from catalogue
    where legal_country_iso not in (select country_iso from denylist)
    group by seed, merchant_id, legal_country_iso
),

violations as (
    select 'E301_SITE_ORDER' as code,
        'seed=' || seed || ' merchant_id=' || merchant_id || ' legal_country_iso=' || legal_country_iso as detail
    from pairs
    where min_site_order <> 1 or max_site_order <> n_sites or distinct_site_orders <> n_sites
    union all
    select distinct 'E302_UNKNOWN_ISO', 'legal_country_iso=' || legal_country_iso
    from pairs
    where legal_country_iso not in (select country_iso from iso_codes)
    union all
    select distinct 'E303_COUNTRY_WITHOUT_TILES', 'legal_country_iso=' || legal_country_iso
    from pairs
    where legal_country_iso in (select country_iso from iso_codes)
        and legal_country_iso not in (select country_iso from tiled)
),

guard as (
    select case when count(*) > 0 then {{ raise_error(
        "'S3 requirements refused (stg_1a__outlet_catalogue, column legal_country_iso/site_order): '
        || " ~ ordered_string_agg("code || ' ' || detail", "'; '", 'code, detail')) }} end as failure
    from violations
)

select
    -- ids
    pairs.seed,
    pairs.merchant_id,
    pairs.legal_country_iso,
    -- numerics
    pairs.n_sites,
    -- lineage
    receipt.manifest_fingerprint,
    receipt.parameter_hash
from pairs
cross join receipt
cross join guard
where guard.failure is null
order by pairs.seed, pairs.merchant_id, pairs.legal_country_iso
