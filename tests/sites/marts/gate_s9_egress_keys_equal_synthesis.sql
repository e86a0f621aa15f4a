{{ config(meta={'gate': 'S-S9-2'}) }}
{#- The egress key set equals the S7 key set, both ways, for every seed. -#}
(
    select 'missing_from_egress' as problem, seed, merchant_id, legal_country_iso, site_order
    from {{ ref('s7_site_synthesis') }}
    except
    select 'missing_from_egress', seed, merchant_id, legal_country_iso, site_order
    from {{ ref('site_locations') }}
)
union all
(
    select 'extra_in_egress', seed, merchant_id, legal_country_iso, site_order
    from {{ ref('site_locations') }}
    except
    select 'extra_in_egress', seed, merchant_id, legal_country_iso, site_order
    from {{ ref('s7_site_synthesis') }}
)
