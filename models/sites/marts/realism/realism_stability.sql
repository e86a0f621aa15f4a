{#- Cross-seed stability of the core metrics of the registry (seed realism_metrics): coefficient of
    variation (population sd / |mean|) over the seeds of the build that have a value, against the CV
    limits of seed realism_stability_limits. -#}
with core_metrics as (
    select *
    from {{ metric_values(ref('realism_scorecard')) }}
    where metric_value is not null
        and metric in (select metric from {{ ref('realism_metrics') }} where core)
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
