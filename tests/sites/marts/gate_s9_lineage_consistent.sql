{{ config(meta={'gate': 'S-S9-4'}) }}
{#- Every RNG state ran under the receipt's manifest_fingerprint and for exactly the seeds of this
    build (var sites_seeds): a partial rebuild with other vars (say `--select s6_site_jitter` with new
    seeds) cannot mix lineages. -#}
{%- set seeds = input_var('sites_seeds') -%}
with states as (
    select 'S4' as state, seed, manifest_fingerprint from {{ ref('s4_alloc_plan') }}
    union all
    select 'S5', seed, manifest_fingerprint from {{ ref('s5_site_tile_assignment') }}
    union all
    select 'S6', seed, manifest_fingerprint from {{ ref('s6_site_jitter') }}
    union all
    select 'S7', seed, manifest_fingerprint from {{ ref('s7_site_synthesis') }}
),

lineages as (
    select distinct state, seed, manifest_fingerprint from states
),

expected_seeds as (
    select cast(seed as {{ seed_type() }}) as seed
    from (values {% for seed in seeds %}({{ seed | int }}){% if not loop.last %}, {% endif %}{% endfor %}) as build_seeds(seed)
),

wrong_lineage as (
    select lineages.state, lineages.seed, lineages.manifest_fingerprint, 'fingerprint or seed not of this build' as problem
    from lineages
    cross join {{ ref('s0_gate_receipt') }} as receipt
    where lineages.manifest_fingerprint is distinct from receipt.manifest_fingerprint
        or lineages.seed not in (select seed from expected_seeds)
),

missing_seed as (
    select states_run.state, expected_seeds.seed, null as manifest_fingerprint, 'seed missing' as problem
    from expected_seeds
    cross join (select distinct state from states) as states_run
    where not exists (
        select 1 from lineages where lineages.state = states_run.state and lineages.seed = expected_seeds.seed
    )
)

select * from wrong_lineage
union all
select * from missing_seed
