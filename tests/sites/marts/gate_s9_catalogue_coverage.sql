{{ config(meta={'gate': 'S-S9-8'}) }}
{#- 1:1 coverage against each seed's 1A catalogue with the denylist applied: every
    non-denylisted catalogue site is published once, and nothing else is. -#}
with denylist as (
    select {{ json_string_array_elements('values_json', 'denylist') }} as country_iso
    from {{ ref('raw_policy__requirements') }}
),

published as (
    select seed, merchant_id, legal_country_iso, site_order from {{ ref('site_locations') }}
),

catalogue as (
    select seed, merchant_id, legal_country_iso, site_order
    from {{ ref('stg_1a__outlet_catalogue') }}
    where legal_country_iso not in (select country_iso from denylist)
)

(select 'not_published' as problem, * from catalogue except select 'not_published', * from published)
union all
(select 'not_in_catalogue', * from published except select 'not_in_catalogue', * from catalogue)
