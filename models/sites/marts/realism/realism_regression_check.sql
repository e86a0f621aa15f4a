{#- No-regression against the pinned last_good scorecard (var realism_last_good_path, a scorecard
    parquet written by `gatehouse sites promote`): per seed, Gini and top-k shares may not rise and
    the coverage shares may not fall (1e-12 slack). Empty when no last_good is pinned. -#}
{%- set last_good_path = var('realism_last_good_path') -%}
{%- set lower_is_better = ['country_gini', 'top1_share', 'top5_share', 'top10_share'] -%}
{%- set higher_is_better = ['eligible_country_nonzero_share', 'southern_hemisphere_share'] -%}
with candidate as (
    select * from {{ ref('realism_scorecard') }}
),

{% if last_good_path %}
last_good as (
    select * from read_parquet({{ sql_string(last_good_path) }})
),
{% else %}
last_good as (
    select * from candidate where false
),
{% endif %}

comparisons as (
    {% for metric in lower_is_better + higher_is_better %}
    select
        candidate.seed,
        '{{ metric }}' as metric,
        candidate.{{ metric }} as candidate_value,
        last_good.{{ metric }} as last_good_value,
        {% if metric in lower_is_better %}
        candidate.{{ metric }} > last_good.{{ metric }} + 1e-12 as regressed
        {% else %}
        candidate.{{ metric }} < last_good.{{ metric }} - 1e-12 as regressed
        {% endif %}
    from candidate
    inner join last_good using (seed)
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from comparisons
order by seed, metric
