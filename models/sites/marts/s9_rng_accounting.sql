{#- S9 RNG accounting per seed and state: events (one per Philox use: a site in S5, an attempt in S6, a
    pair's sampling in S4, or a country's cluster draws in settlement_clusters_v3), blocks and draws,
    against the sites they served. Gates S-S9-5/6 read it. -#}
with alloc_policy as (
    select {{ json_field_text('values_json', 'mode') }} as mode from {{ ref('raw_policy__alloc_plan') }}
),

s4 as (
    select
        seed,
        'S4' as state,
        '1B.S4.alloc_plan' as module,
        case (select mode from alloc_policy)
            when 'settlement_clusters_v3' then 's4_cluster_draw' else 's4_alloc_sample'
        end as substream_label,
        count(*) filter (where rng_blocks > 0)::bigint as events,
        coalesce(sum(rng_blocks), 0)::bigint as blocks,
        coalesce(sum(rng_blocks), 0)::bigint as draws,
        sum(n_sites)::bigint as sites
    from {{ ref('s4_pair_diagnostics') }}
    group by seed
),

s5 as (
    select seed, 'S5', any_value(module), any_value(substream_label), count(*)::bigint, sum(rng_blocks)::bigint,
        sum(rng_draws)::bigint, count(*)::bigint
    from {{ ref('s5_site_tile_assignment') }}
    group by seed
),

s6 as (
    select seed, 'S6', any_value(module), any_value(substream_label), sum(attempts)::bigint, sum(rng_blocks)::bigint,
        sum(rng_draws)::bigint, count(*)::bigint
    from {{ ref('s6_site_jitter') }}
    group by seed
),

requirements as (
    select seed, sum(n_sites)::bigint as required_sites from {{ ref('s3_requirements') }} group by seed
)

select states.*, requirements.required_sites
from (select * from s4 union all select * from s5 union all select * from s6) as states
inner join requirements using (seed)
order by seed, state
