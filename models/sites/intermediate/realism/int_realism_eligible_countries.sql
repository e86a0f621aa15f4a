{#- Eligible countries: those with at least one tile (this build's S1 index, or the tiles parquet of
    var realism_tiles_path), denylist removed. The denominator of eligible_country_nonzero_share. -#}
{%- set tiles_path = var('realism_tiles_path') -%}
with tiles as (
    {% if tiles_path %}
    select distinct cast(country_iso as varchar) as country_iso from read_parquet({{ sql_string(tiles_path) }})
    {% else %}
    select distinct country_iso from {{ ref('s1_tile_index') }}
    {% endif %}
),

denylist as (
    select unnest(from_json(values_json::json -> 'denylist', '["VARCHAR"]')) as country_iso
    from {{ ref('raw_policy__requirements') }}
)

select country_iso
from tiles
where country_iso not in (select country_iso from denylist)
