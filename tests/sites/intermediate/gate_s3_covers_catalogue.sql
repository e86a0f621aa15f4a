{{ config(meta={'gate': 'S-S3-4'}) }}
{#- For every seed, n_sites per pair equals the catalogue's site rows for that pair, for every non-denylisted pair. -#}
with denylist as (
    select {{ json_string_array_elements('values_json', 'denylist') }} as country_iso
    from {{ ref('raw_policy__requirements') }}
),

catalogue as (
    select seed, merchant_id, legal_country_iso, count(*) as catalogue_sites
    from {{ ref('stg_1a__outlet_catalogue') }}
    where legal_country_iso not in (select country_iso from denylist)
    group by all
)

select *
from catalogue
full outer join {{ ref('s3_requirements') }} as s3 using (seed, merchant_id, legal_country_iso)
where catalogue.catalogue_sites is distinct from s3.n_sites
