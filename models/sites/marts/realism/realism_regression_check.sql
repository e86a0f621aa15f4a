{#- No-regression against the pinned last_good scorecard (var realism_last_good_path, a scorecard
    parquet written by `gatehouse sites promote`): per seed of last_good, each registry metric flagged
    no_regression (seed realism_metrics) may not move against its direction: an at_most metric may not
    rise, an at_least one may not fall (1e-12 slack). A metric last_good lacks has a null last_good_value
    and fails. Empty when no last_good is pinned. -#}
{%- set last_good_path = input_var('realism_last_good_path') -%}
with candidate as (
    select * from {{ metric_values(ref('realism_scorecard')) }}
),

{% if last_good_path %}
last_good as (
    select * from {{ metric_values(parquet_file(last_good_path)) }}
),
{% else %}
last_good as (
    select * from candidate where false
),
{% endif %}

checked as (
    select metric, comparison from {{ ref('realism_metrics') }} where no_regression
)

select
    candidate.seed,
    candidate.metric,
    candidate.metric_value as candidate_value,
    last_good.metric_value as last_good_value,
    case checked.comparison
        when 'at_most' then candidate.metric_value > last_good.metric_value + 1e-12
        when 'at_least' then candidate.metric_value < last_good.metric_value - 1e-12
    end as regressed
from candidate
inner join checked using (metric)
left join last_good on last_good.seed = candidate.seed and last_good.metric = candidate.metric
where candidate.seed in (select seed from last_good)
order by candidate.seed, candidate.metric
