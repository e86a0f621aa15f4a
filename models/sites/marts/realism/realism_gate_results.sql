{#- Every B and B+ threshold of seed realism_gates applied to every seed's scorecard, long format:
    one row per (seed, grade, metric) with the value, the threshold and whether it passes (a null or
    NaN value fails). -#}
with scorecard as (
    select * from {{ ref('realism_scorecard') }}
),

gates as (
    select * from {{ ref('realism_gates') }}
),

metric_values as (
    -- include nulls: a metric that could not be computed must fail its gate, not vanish with it
    select seed, metric, metric_value
    from scorecard
    unpivot include nulls (metric_value for metric in (
        country_gini, top1_share, top5_share, top10_share, eligible_country_nonzero_share,
        southern_hemisphere_share, nn_tail_improvement
    ))
)

select
    metric_values.seed,
    gates.grade,
    gates.gate_id,
    metric_values.metric,
    gates.comparison,
    gates.threshold,
    metric_values.metric_value,
    {{ passes_threshold('metric_values.metric_value', 'gates.comparison', 'gates.threshold') }} as passed
from metric_values
inner join gates using (metric)
order by metric_values.seed, gates.grade, gates.gate_id
