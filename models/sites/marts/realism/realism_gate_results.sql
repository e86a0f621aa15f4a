{#- Every gate of realism_gates applied to every seed's scorecard, long format: one row per (seed, grade,
    metric) with the value, the threshold and whether it passes. A null or NaN value fails, and so does a
    gate whose metric the scorecard lacks (its value is null). -#}
with scorecard as (
    select * from {{ ref('realism_scorecard') }}
),

gates as (
    select * from {{ ref('realism_gates') }}
),

metric_values as (
    select * from {{ metric_values('scorecard') }}
)

select
    scorecard.seed,
    gates.grade,
    gates.gate_id,
    gates.metric,
    gates.comparison,
    gates.threshold,
    metric_values.metric_value,
    {{ passes_threshold('metric_values.metric_value', 'gates.comparison', 'gates.threshold') }} as passed
from scorecard
cross join gates
left join metric_values on metric_values.seed = scorecard.seed and metric_values.metric = gates.metric
order by scorecard.seed, gates.grade, gates.gate_id
