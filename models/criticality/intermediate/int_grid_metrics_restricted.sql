{#- The only input of the g* selection: condition keys and b_tot, nothing else (no task metrics);
    plus, for the annotations of g* only, the optional bootstrap intervals of b_tot and of its slope
    (null when the file has none; a key repeated with the same b_tot keeps the widest interval).
    From this build's gain_grid_metrics, or from any metrics.parquet given as var gstar_metrics_path
    (a missing model_role column takes var gstar_model_role; `g` is accepted for `gain`).
    A metrics file is checked here, where it is read, so the CLI and a plain dbt build refuse the same
    input: the build stops with an error naming the file, the column and the problem (macro raise_error)
    for no rows, null or non-numeric keys or b_tot, b_tot not finite or outside [0, 1000) (see macro
    exact_distance), a model role, spike definition, target rate or gain outside CANON (exact double
    equality), or one key with different b_tot values. Rows repeated with the same b_tot count once. -#}
{%- set metrics_path = input_var('gstar_metrics_path') -%}
with
{% if metrics_path %}
external_metrics as (
    {{ typed_parquet(metrics_path, {'model_role': 'string', 'spike_def_id': 'string', 'target_rate': 'double',
                                    'gain': 'double', 'g': 'double', 'b_tot': 'double',
                                    'b_tot_ci_low': 'double', 'b_tot_ci_high': 'double',
                                    'b_tot_slope_ci_low': 'double', 'b_tot_slope_ci_high': 'double'}) }}
),

read_metrics as (
    select
        coalesce(try_cast(model_role as string), {{ sql_string(input_var('gstar_model_role')) }}) as model_role,
        try_cast(spike_def_id as string) as spike_def_id,
        try_cast(target_rate as double) as target_rate,
        coalesce(try_cast(gain as double), try_cast(g as double)) as gain,
        try_cast(b_tot as double) as b_tot,
        try_cast(b_tot_ci_low as double) as b_tot_ci_low,
        try_cast(b_tot_ci_high as double) as b_tot_ci_high,
        try_cast(b_tot_slope_ci_low as double) as b_tot_slope_ci_low,
        try_cast(b_tot_slope_ci_high as double) as b_tot_slope_ci_high
    from external_metrics
),

canon_roles as (
    select {{ ordered_list('model_role', 'model_role') }} as allowed from {{ ref('canon_model_roles') }}
),

canon_spike_defs as (
    select {{ ordered_list('spike_def_id', 'spike_def_order') }} as allowed from {{ ref('canon_spike_defs') }}
),

canon_rates as (
    select {{ ordered_list('target_rate', 'target_rate') }} as allowed from {{ ref('canon_target_rates') }}
),

canon_gains as (
    select {{ ordered_list('gain', 'gain') }} as allowed from {{ ref('canon_gain_grid') }}
),

counts as (
    select
        count(*) as n_rows,
        count_if(spike_def_id is null) as null_spike_def_id,
        count_if(target_rate is null) as null_target_rate,
        count_if(gain is null) as null_gain,
        count_if(b_tot is null) as null_b_tot,
        count_if(not {{ is_finite('b_tot') }}) as non_finite_b_tot,
        count_if({{ is_finite('b_tot') }} and (b_tot < 0 or b_tot >= 1000)) as out_of_range_b_tot
    from read_metrics
),

conflicts as (
    select
        '(' || concat_ws(', ', model_role, spike_def_id, target_rate, gain) || ') has b_tot '
            || cast({{ sorted_distinct_list('b_tot') }} as string) as detail
    from read_metrics
    group by model_role, spike_def_id, target_rate, gain
    having count(distinct b_tot) > 1
),

problems as (
    select 1 as check_order, 'no rows, nothing to select g* from' as problem from counts where n_rows = 0
    {%- for column in ['spike_def_id', 'target_rate', 'gain', 'b_tot'] %}
    union all
    select 2, 'column {{ column }}: ' || null_{{ column }} || ' null or non-numeric value(s) (or no such column)'
    from counts where null_{{ column }} > 0
    {%- endfor %}
    union all
    select 3, 'column b_tot: ' || non_finite_b_tot || ' non-finite value(s) (NaN/inf)'
    from counts where non_finite_b_tot > 0
    union all
    select 3, 'column b_tot: ' || out_of_range_b_tot || ' value(s) outside [0, 1000)'
    from counts where out_of_range_b_tot > 0
    {%- for column, canon_values, what in [('model_role', 'canon_roles', 'unknown model_role(s)'),
                                          ('spike_def_id', 'canon_spike_defs', 'unknown spike_def_id(s)'),
                                          ('target_rate', 'canon_rates', 'non-canonical target_rate(s)'),
                                          ('gain', 'canon_gains', 'gain(s) not in the grid')] %}
    union all
    select 4, 'column {{ column }}: {{ what }} ' || cast({{ list_head(sorted_distinct_list(column), 5) }} as string)
        || ' not in ' || cast(any_value({{ canon_values }}.allowed) as string)
    from read_metrics
    cross join {{ canon_values }}
    where not array_contains({{ canon_values }}.allowed, {{ column }})
    having count(*) > 0
    {%- endfor %}
    union all
    select 5, 'columns model_role, spike_def_id, target_rate, gain: ' || count(*)
        || ' key(s) with conflicting b_tot, e.g. ' || min(detail)
    from conflicts
    having count(*) > 0
),

guard as (
    select case when count(*) > 0 then {{ raise_error(
        sql_string(metrics_path) ~ " || ': ' || " ~ ordered_string_agg('problem', "'; '", 'check_order, problem')) }}
    end as failure
    from problems
),

branching_metrics as (
    select
        model_role, spike_def_id, target_rate, gain, b_tot,
        min(b_tot_ci_low) as b_tot_ci_low,
        max(b_tot_ci_high) as b_tot_ci_high,
        min(b_tot_slope_ci_low) as b_tot_slope_ci_low,
        max(b_tot_slope_ci_high) as b_tot_slope_ci_high
    from read_metrics
    group by model_role, spike_def_id, target_rate, gain, b_tot
    union all
    -- never a row: evaluating the guard raises the error (also when the file has no rows)
    select null, null, null, null, null, null, null, null, null
    from guard
    where failure is not null
)
{% else %}
branching_metrics as (
    select
        model_role, spike_def_id, target_rate, gain, b_tot,
        b_tot_ci_low, b_tot_ci_high, b_tot_slope_ci_low, b_tot_slope_ci_high
    from {{ ref('gain_grid_metrics') }}
)
{% endif %}

select
    cast(model_role as string) as model_role,
    cast(spike_def_id as string) as spike_def_id,
    cast(target_rate as double) as target_rate,
    cast(gain as double) as gain,
    cast(b_tot as double) as b_tot,
    cast(b_tot_ci_low as double) as b_tot_ci_low,
    cast(b_tot_ci_high as double) as b_tot_ci_high,
    cast(b_tot_slope_ci_low as double) as b_tot_slope_ci_low,
    cast(b_tot_slope_ci_high as double) as b_tot_slope_ci_high
from branching_metrics
-- a fixed row order (select distinct does not keep the file's): gstar's regr_slope depends on it in the last bits
order by model_role, spike_def_id, target_rate, gain
