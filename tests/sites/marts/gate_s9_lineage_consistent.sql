{{ config(meta={'gate': 'S-S9-4'}) }}
{#- Every RNG state ran under the receipt's manifest_fingerprint and one seed: a partial rebuild with
    other vars (say `--select s6_site_jitter` with a new sites_seed) cannot mix lineages. -#}
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
    select distinct seed, manifest_fingerprint from states
)

select lineages.*, receipt.manifest_fingerprint as receipt_fingerprint
from lineages
cross join {{ ref('s0_gate_receipt') }} as receipt
where lineages.manifest_fingerprint is distinct from receipt.manifest_fingerprint
    or (select count(*) from lineages) <> 1
