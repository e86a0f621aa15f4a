{#- Exceedance events, typed. User events (var spike_source = events) are read in place from their
    parquet file, which raw_spikes__summaries has checked first; the passes over the events read
    that file directly and reject values that do not fit these types. try_cast keeps such a value a
    null here (reported by column when this view is what a pass reads). -#}
{%- if input_var('spike_source') == 'events' %}
-- depends_on: {{ ref('raw_spikes__summaries') }}
with source as (
    select * from {{ parquet_file(input_var('spike_events_path')) }}
    where model_role in ({% for role in input_var('model_roles') %}{{ sql_string(role) }}{{ ', ' if not loop.last }}{% endfor %})
)
{%- else %}
with source as (
    select * from {{ ref('raw_spikes__events') }}
)
{%- endif %}

select
    -- ids
    try_cast(model_role as string) as model_role,
    try_cast(gain as double) as gain,
    try_cast(seq_id as integer) as seq_id,
    try_cast(token as integer) as token,
    try_cast(layer as integer) as layer,
    try_cast(unit as integer) as unit,
    -- numerics
    try_cast(z as float) as z
from source
