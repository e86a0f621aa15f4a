{#- Every B and B+ threshold of seed realism_gates applied to every seed's scorecard, long format:
    one row per (seed, grade, metric) with the value, the threshold and whether it passes. -#}
with scorecard as (
    select * from {{ ref('realism_scorecard') }}
),

gates as (
    select * from {{ ref('realism_gates') }}
),

metric_values as (
    unpivot (
        select seed, country_gini, top1_share, top5_share, top10_share, eligible_country_nonzero_share,
            southern_hemisphere_share, nn_tail_improvement
        from scorecard
    )
    on country_gini, top1_share, top5_share, top10_share, eligible_country_nonzero_share,
        southern_hemisphere_share, nn_tail_improvement
    into name metric value metric_value
)

select
    metric_values.seed,
    gates.grade,
    gates.gate_id,
    metric_values.metric,
    gates.comparison,
    gates.threshold,
    metric_values.metric_value,
    coalesce(case gates.comparison
        when 'at_most' then metric_values.metric_value <= gates.threshold
        when 'at_least' then metric_values.metric_value >= gates.threshold
    end, false) as passed
from metric_values
inner join gates using (metric)
order by metric_values.seed, gates.grade, gates.gate_id
