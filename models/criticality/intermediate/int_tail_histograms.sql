{#- Counts of the spec §4 equal-width histogram, for the bins above the stored floor. -#}
with spike_values as (
    select * from {{ ref('int_spike_values') }}
),

settings as (
    select * from {{ ref('int_rate_match_settings') }}
),

binned as (
    select
        spike_values.model_role,
        spike_values.spike_def_id,
        spike_values.gain,
        spike_values.layer,
        cast(least(greatest(
            floor((least(greatest(spike_values.v, spike_values.v_min_r), spike_values.v_max_r) - spike_values.v_min_r)
                * settings.hist_bins / (spike_values.v_max_r - spike_values.v_min_r)),
            0), settings.hist_bins - 1) as integer) as bin_index
    from spike_values
    cross join settings
)

select model_role, spike_def_id, gain, layer, bin_index, count(*) as n_values_in_bin
from binned
group by all
