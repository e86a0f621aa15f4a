{#- The only input of the g* selection: condition keys and b_tot, nothing else (no task metrics).
    From this build's gain_grid_metrics, or from any metrics.parquet given as var gstar_metrics_path
    (a missing model_role column takes var gstar_model_role; `g` is accepted for `gain`). -#}
{%- set metrics_path = input_var('gstar_metrics_path') -%}
with
{% if metrics_path %}
external_metrics as (
    {{ typed_parquet(metrics_path, {'model_role': 'varchar', 'spike_def_id': 'varchar', 'target_rate': 'double',
                                    'gain': 'double', 'g': 'double', 'b_tot': 'double'}) }}
),

branching_metrics as (
    select
        coalesce(model_role, {{ sql_string(input_var('gstar_model_role')) }}) as model_role,
        spike_def_id,
        target_rate,
        coalesce(gain, g) as gain,
        b_tot
    from external_metrics
)
{% else %}
branching_metrics as (
    select model_role, spike_def_id, target_rate, gain, b_tot
    from {{ ref('gain_grid_metrics') }}
)
{% endif %}

select
    cast(model_role as varchar) as model_role,
    cast(spike_def_id as varchar) as spike_def_id,
    cast(target_rate as double) as target_rate,
    cast(gain as double) as gain,
    cast(b_tot as double) as b_tot
from branching_metrics
