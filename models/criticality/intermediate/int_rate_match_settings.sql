{#- The CANON constants used by rate matching and g* selection, one row, typed. -#}
with constants as (
    select * from {{ ref('canon_constants') }}
)

select
    max(constant_value) filter (where constant_name = 'TAU0_BASELINE') as tau0_baseline,
    max(constant_value) filter (where constant_name = 'GAIN_BASELINE') as gain_baseline,
    max(constant_value) filter (where constant_name = 'RATE_MATCH_TOL_ABS') as rate_match_tol_abs,
    cast(max(constant_value) filter (where constant_name = 'RATE_MATCH_HIST_BINS') as integer) as hist_bins,
    max(constant_value) filter (where constant_name = 'RATE_MATCH_EDGE_ROUND_ABS') as edge_round_abs,
    cast(max(constant_value) filter (where constant_name = 'RATE_MATCH_MIN_CAL_SAMPLES') as bigint)
        as min_cal_samples
from constants
