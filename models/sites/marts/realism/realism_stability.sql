{#- Cross-seed stability of the core metrics: coefficient of variation (population sd / |mean|) over
    the seeds of the build, against the CV limits of seed realism_stability. -#}
with scorecard as (
    select * from {{ ref('realism_scorecard') }}
),

core_metrics as (
    unpivot (
        select seed, country_gini, top1_share, top5_share, top10_share, eligible_country_nonzero_share,
            southern_hemisphere_share, nn_p99_p50_ratio
        from scorecard
    )
    on country_gini, top1_share, top5_share, top10_share, eligible_country_nonzero_share,
        southern_hemisphere_share, nn_p99_p50_ratio
    into name metric value metric_value
),

limits as (
    select
        max(cv_max) filter (where grade = 'B') as cv_max_b,
        max(cv_max) filter (where grade = 'B+') as cv_max_bplus
    from {{ ref('realism_stability_limits') }}
)

select
    core_metrics.metric,
    count(*) as n_seeds,
    avg(core_metrics.metric_value) as mean_value,
    stddev_pop(core_metrics.metric_value) as sd_value,
    coalesce({{ coefficient_of_variation('core_metrics.metric_value') }}, 0) as cv,
    any_value(limits.cv_max_b) as cv_max_b,
    any_value(limits.cv_max_bplus) as cv_max_bplus
from core_metrics
cross join limits
group by core_metrics.metric
order by core_metrics.metric
