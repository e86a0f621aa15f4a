{#- Per (model_role, spike_def, gain, layer): the histogram range rounded outwards to the edge grid, and the
    summaries' v_min, v_max and n_above_tau0 that pass 1 checks the events against. -#}
with summaries as (
    select * from {{ ref('stg_spikes__summaries') }}
),

settings as (
    select * from {{ ref('int_rate_match_settings') }}
)

select
    summaries.model_role,
    summaries.spike_def_id,
    summaries.gain,
    summaries.layer,
    summaries.n_sequences,
    summaries.seq_len,
    summaries.d_ff,
    summaries.n_values,
    summaries.value_floor,
    summaries.n_above_tau0,
    summaries.v_min,
    summaries.v_max,
    floor(summaries.v_min / settings.edge_round_abs) * settings.edge_round_abs as v_min_r,
    ceil(summaries.v_max / settings.edge_round_abs) * settings.edge_round_abs as v_max_r
from summaries
cross join settings
