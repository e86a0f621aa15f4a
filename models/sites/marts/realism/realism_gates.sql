{#- The B and B+ gates of the metric registry (seed realism_metrics) in long format: one row per gate. -#}
with registry as (
    select * from {{ ref('realism_metrics') }}
)

select metric, 'B' as grade, comparison, threshold_b as threshold, gate_b as gate_id
from registry
where gate_b is not null
union all
select metric, 'B+' as grade, comparison, threshold_bplus as threshold, gate_bplus as gate_id
from registry
where gate_bplus is not null
order by grade, gate_id
