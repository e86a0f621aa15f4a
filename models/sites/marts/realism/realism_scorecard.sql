{#- One row per seed: the realism metrics of the docs block `realism_metrics`. -#}
with sites as (
    select * from {{ ref('int_realism_sites') }}
),

counts as (
    select * from {{ ref('int_realism_country_counts') }}
),

eligible as (
    select count(*) as n_eligible_countries from {{ ref('int_realism_eligible_countries') }}
),

nn as (
    select * from {{ ref('realism_nn_quantiles') }} where scope = 'all'
),

sentinel as (
    select seed, count(*) filter (where collapse_flagged) as collapse_flagged_countries
    from {{ ref('realism_collapse_sentinel') }}
    group by seed
),

baseline as (
    select baseline as baseline_nn_ratio from {{ ref('realism_metrics') }} where metric = 'nn_p99_p50_ratio'
),

concentration as (
    select
        seed,
        sum(n_sites) as n_sites,
        count(*) as n_active_countries,
        {{ gini('n_sites') }} as country_gini,
        {{ top_share('n_sites', 0.01) }} as top1_share,
        {{ top_share('n_sites', 0.05) }} as top5_share,
        {{ top_share('n_sites', 0.10) }} as top10_share
    from counts
    group by seed
),

placement as (
    select
        seed,
        avg((lat_deg < 0)::int) as southern_hemisphere_share,
        bool_and(lat_deg between -90 and 90 and lon_deg between -180 and 180) as coordinate_bounds_valid
    from sites
    group by seed
)

select
    concentration.seed,
    concentration.n_sites,
    concentration.n_active_countries,
    eligible.n_eligible_countries,
    concentration.country_gini,
    concentration.top1_share,
    concentration.top5_share,
    concentration.top10_share,
    {{ ieee_divide('concentration.n_active_countries', 'eligible.n_eligible_countries') }} as eligible_country_nonzero_share,
    placement.southern_hemisphere_share,
    nn.nn_p50_m,
    nn.nn_p99_m,
    nn.nn_p99_p50_ratio,
    -- the reference's ratio is 0 when p50 = 0 (most sites share coordinates): undefined, not the best tail
    case when nn.nn_p50_m > 0 then (baseline.baseline_nn_ratio - nn.nn_p99_p50_ratio) / baseline.baseline_nn_ratio end
        as nn_tail_improvement,
    placement.coordinate_bounds_valid,
    coalesce(sentinel.collapse_flagged_countries, 0) as collapse_flagged_countries
from concentration
inner join placement using (seed)
left join nn using (seed)
left join sentinel using (seed)
cross join eligible
cross join baseline
order by concentration.seed
