{{ config(meta={'gate': 'C-NL-1'}) }}
{#- The permutation null is the exact expectation given each layer's occupied count k (its marginal):
    per (condition, sequence) the null's time and depth pairs in int_branching_counts must equal
    Σ_l k_l (k_l - 1) / T and Σ_l k_l k_{l+1} / T recomputed from the counts of an independent scan of
    the raster (the shift-null kernel's n_occupied of the unshifted rows), and the occupied sites must
    agree. Returns the sequences that differ (relative tolerance 1e-12). -#}
with layers as (
    select
        cast(shift.model_role as string) as model_role,
        cast(shift.spike_def_id as string) as spike_def_id,
        shift.target_rate,
        shift.gain,
        shift.seq_id,
        shift.layer,
        shift.n_occupied,
        lattices.seq_len,
        case when lead(shift.layer) over sequence_layers = shift.layer + 1
            then lead(shift.n_occupied) over sequence_layers else 0 end as n_occupied_next_layer
    from {{ ref('int_shift_null_layer_counts') }} as shift
    inner join {{ ref('int_condition_lattices') }} as lattices
        on cast(shift.model_role as string) = lattices.model_role
        and cast(shift.spike_def_id as string) = lattices.spike_def_id
        and shift.target_rate = lattices.target_rate
        and shift.gain = lattices.gain
    window sequence_layers as (
        partition by shift.model_role, shift.spike_def_id, shift.target_rate, shift.gain, shift.seq_id
        order by shift.layer
    )
),

expected as (
    select
        model_role, spike_def_id, target_rate, gain, seq_id,
        sum(n_occupied) as n_occupied,
        sum(n_occupied * (n_occupied - 1)) / any_value(seq_len) as num_time_perm,
        sum(n_occupied * n_occupied_next_layer) / any_value(seq_len) as num_depth_perm
    from layers
    group by all
),

null_counts as (
    select model_role, spike_def_id, target_rate, gain, seq_id, n_occupied, num_time_perm, num_depth_perm
    from {{ ref('int_branching_counts') }}
)

select
    model_role, spike_def_id, target_rate, gain, seq_id,
    expected.n_occupied as expected_n_occupied, null_counts.n_occupied,
    expected.num_time_perm as expected_num_time_perm, null_counts.num_time_perm,
    expected.num_depth_perm as expected_num_depth_perm, null_counts.num_depth_perm
from expected
full outer join null_counts using (model_role, spike_def_id, target_rate, gain, seq_id)
where expected.n_occupied is distinct from null_counts.n_occupied
    or not coalesce(abs(expected.num_time_perm - null_counts.num_time_perm)
        <= 1e-12 * greatest(1, abs(expected.num_time_perm)), false)
    or not coalesce(abs(expected.num_depth_perm - null_counts.num_depth_perm)
        <= 1e-12 * greatest(1, abs(expected.num_depth_perm)), false)
