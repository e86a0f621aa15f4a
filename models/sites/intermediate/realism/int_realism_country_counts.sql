{#- Sites per (seed, legal country) over the active countries (>= 1 site), the unit of every
    concentration metric. -#}
with sites as (
    select * from {{ ref('int_realism_sites') }}
)

select seed, legal_country_iso as country_iso, count(*) as n_sites
from sites
group by all
