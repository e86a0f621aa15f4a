{#- S9 egress checksums: per seed, per legal country and overall ('*'), the row count and a SHA-256 over the rows
    as canonical text in PK order (coordinates as DuckDB's shortest round-trip text), computed from the
    egress (site_locations) and again from the S7 synthesis; gate S-S9-7 requires the two to agree, so
    the egress is exactly the synthesised sites. -#}
{% set row_text %}
    merchant_id::varchar || '|' || legal_country_iso || '|' || site_order::varchar || '|'
    || lon_deg::varchar || '|' || lat_deg::varchar
{% endset %}
with
{% for name, relation in [('egress', ref('site_locations')), ('synthesis', ref('s7_site_synthesis'))] %}
{{ name }} as (
    select
        seed,
        legal_country_iso,
        count(*) as n_rows,
        sha256(string_agg({{ row_text }}, chr(10) order by merchant_id, site_order)) as content_sha256
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
        sha256(string_agg(legal_country_iso || ':' || content_sha256, chr(10) order by legal_country_iso)),
        sum(synthesis_rows)::bigint,
        sha256(string_agg(legal_country_iso || ':' || synthesis_sha256, chr(10) order by legal_country_iso))
    from per_country
    group by seed
)

select * from per_country
union all
select * from overall
order by seed, legal_country_iso
