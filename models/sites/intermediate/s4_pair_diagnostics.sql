{#- S4 pair diagnostics (reference §2): top1 = max tile count / n, HHI = sum (c/n)^2, and their floors
    for m = the country's tile count, q, r = divmod(n, m): top1_floor = (q + 1)/n if r > 0 else q/n,
    hhi_floor = (r (q+1)^2 + (m - r) q^2) / n^2. headroom = observed - floor. -#}
with plan as (
    select * from {{ ref('s4_alloc_plan') }}
),

tile_counts as (
    select country_iso as legal_country_iso, count(*) as m_tiles
    from {{ ref('s2_tile_weights') }}
    where weight_fp > 0
    group by country_iso
),

pairs as (
    select
        seed,
        merchant_id,
        legal_country_iso,
        sum(n_sites_tile) as n_sites,
        count(*) as active_tiles,
        max(n_sites_tile) as max_tile,
        sum(n_sites_tile::double * n_sites_tile) as sum_sq,
        any_value(pair_rng_blocks) as rng_blocks
    from plan
    group by seed, merchant_id, legal_country_iso
),

floors as (
    select
        pairs.*,
        tile_counts.m_tiles,
        {{ integer_divide('pairs.n_sites', 'tile_counts.m_tiles') }} as q,
        pairs.n_sites % tile_counts.m_tiles as r
    from pairs
    inner join tile_counts using (legal_country_iso)
)

select
    -- ids
    seed,
    merchant_id,
    legal_country_iso,
    -- numerics
    n_sites,
    active_tiles,
    m_tiles,
    rng_blocks,
    max_tile::double / n_sites as top1,
    sum_sq / (n_sites::double * n_sites) as hhi,
    (case when r > 0 then q + 1 else q end)::double / n_sites as top1_floor,
    (r * power(q + 1.0, 2) + (m_tiles - r) * power(q::double, 2)) / (n_sites::double * n_sites) as hhi_floor,
    max_tile::double / n_sites - (case when r > 0 then q + 1 else q end)::double / n_sites as top1_headroom
from floors
order by seed, merchant_id, legal_country_iso
