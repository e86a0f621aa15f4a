{#- Per-layer target rates r*_l (spec §3): the baseline profile r_base_l = #(v > TAU0) / n at
    g = GAIN_BASELINE, rescaled so its mean over layers equals each target rate, clipped to [0, 1]. -#}
with ranges as (
    select * from {{ ref('int_value_ranges') }}
),

settings as (
    select * from {{ ref('int_rate_match_settings') }}
),

target_rates as (
    select * from {{ ref('canon_target_rates') }}
),

baseline as (
    select
        ranges.model_role,
        ranges.spike_def_id,
        ranges.layer,
        ranges.n_above_tau0 / ranges.n_values as r_base
    from ranges
    cross join settings
    where ranges.gain = settings.gain_baseline
),

profile as (
    select *, avg(r_base) over (partition by model_role, spike_def_id) as r_base_mean
    from baseline
)

select
    profile.model_role,
    profile.spike_def_id,
    target_rates.target_rate,
    profile.layer,
    profile.r_base,
    {{ ieee_divide('target_rates.target_rate', 'profile.r_base_mean') }} as scale,
    least(greatest({{ ieee_divide('profile.r_base * target_rates.target_rate', 'profile.r_base_mean') }}, 0.0), 1.0)
        as r_star
from profile
cross join target_rates
