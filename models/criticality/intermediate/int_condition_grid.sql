{#- The conditions a complete Phase 2 grid must have: model roles of this build x spike
    definitions x target rates x the CANON gain grid. -#}
with roles as (
    select distinct model_role from {{ ref('int_condition_lattices') }}
),

spike_defs as (
    select spike_def_id from {{ ref('canon_spike_defs') }}
),

target_rates as (
    select target_rate from {{ ref('canon_target_rates') }}
),

gains as (
    select gain from {{ ref('canon_gain_grid') }}
)

select roles.model_role, spike_defs.spike_def_id, target_rates.target_rate, gains.gain
from roles
cross join spike_defs
cross join target_rates
cross join gains
