{#- Every condition of this build with its lattice (sequences N, layers L, tokens T). -#}
with ranges as (
    select * from {{ ref('int_value_ranges') }}
),

target_rates as (
    select * from {{ ref('canon_target_rates') }}
),

imported as (
    select * from {{ ref('stg_spikes__raster_conditions') }}
),

rate_matched as (
    select
        ranges.model_role,
        ranges.spike_def_id,
        target_rates.target_rate,
        ranges.gain,
        max(ranges.n_sequences) as n_sequences,
        count(*) as n_layers,
        max(ranges.seq_len) as seq_len
    from ranges
    cross join target_rates
    group by all
)

select * from rate_matched
union all
select model_role, spike_def_id, target_rate, gain, n_sequences, n_layers, seq_len from imported
