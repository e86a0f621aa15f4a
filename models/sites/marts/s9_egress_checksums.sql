{#- S9 egress checksums: per seed, per legal country and overall ('*'), the row count and a SHA-256 over the rows
    as canonical text in PK order (coordinates as the hex digits of their IEEE-754 bits, macro
    canonical_double_text, so every engine hashes the same bytes), computed from the egress
    (site_locations) and again from the S7 synthesis; gate S-S9-7 requires the two to agree, so the
    egress is exactly the synthesised sites. -#}
{% set row_text %}
    cast(merchant_id as string) || '|' || legal_country_iso || '|' || cast(site_order as string) || '|'
    || {{ canonical_double_text('lon_deg') }} || '|' || {{ canonical_double_text('lat_deg') }}
{% endset %}
with
{% for name, relation in [('egress', ref('site_locations')), ('synthesis', ref('s7_site_synthesis'))] %}
{{ name }} as (
    select
        seed,
        legal_country_iso,
        count(*) as n_rows,
        {{ sha256_hex(ordered_string_agg(row_text, 'chr(10)', 'merchant_id, site_order')) }} as content_sha256
    from {{ relation }}
    group by seed, legal_country_iso
),
{% endfor %}

per_country as (
    select
        coalesce(egress.seed, synthesis.seed) as seed,
        coalesce(egress.legal_country_iso, synthesis.legal_country_iso) as legal_country_iso,
        egress.n_rows,
        egress.content_sha256,
        synthesis.n_rows as synthesis_rows,
        synthesis.content_sha256 as synthesis_sha256
    from egress
    full outer join synthesis
        on egress.seed = synthesis.seed and egress.legal_country_iso = synthesis.legal_country_iso
),

overall as (
    select
        seed,
        '*' as legal_country_iso,
        sum(n_rows)::bigint as n_rows,
        {{ sha256_hex(ordered_string_agg("legal_country_iso || ':' || content_sha256", 'chr(10)', 'legal_country_iso')) }},
        sum(synthesis_rows)::bigint,
        {{ sha256_hex(ordered_string_agg("legal_country_iso || ':' || synthesis_sha256", 'chr(10)', 'legal_country_iso')) }}
    from per_country
    group by seed
)

select * from per_country
union all
select * from overall
order by seed, legal_country_iso
