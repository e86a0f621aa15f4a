{{ config(meta={'gate': 'S-S3-3'}) }}
{#- No requirement row for a denylisted country (requirements policy). -#}
select s3.*
from {{ ref('s3_requirements') }} as s3
where s3.legal_country_iso in (
    select {{ json_string_array_elements('values_json', 'denylist') }}
    from {{ ref('raw_policy__requirements') }}
)
