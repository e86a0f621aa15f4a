{% macro check_vars() -%}
    {#- on-run-start: refuse malformed inputs (--vars or GATEHOUSE_* environment) in one line before any node runs (a bad value would
        otherwise fail deep inside a model, or worse, be read as something else). -#}
    {%- set problems = [] -%}
    {%- set seeds = input_var('sites_seeds') -%}
    {%- if seeds is string or seeds is not iterable or seeds | length == 0 -%}
        {%- do problems.append('sites_seeds must be a non-empty list of integer seeds, got ' ~ seeds) -%}
    {%- else -%}
        {%- for seed in seeds if not (seed is integer and seed >= 0 and seed < 2 ** 64) -%}
            {%- do problems.append('sites_seeds: ' ~ seed ~ ' is not an integer in [0, 2^64)') -%}
        {%- endfor -%}
        {%- if seeds | unique | list | length != seeds | length -%}
            {%- do problems.append('sites_seeds must be distinct, got ' ~ seeds) -%}
        {%- endif -%}
    {%- endif -%}
    {%- for name in ['sites_catalogue_seed', 'realism_external_seed'] -%}
        {%- set value = input_var(name) -%}
        {%- if not (value is integer and value >= 0 and value < 2 ** 64) -%}
            {%- do problems.append(name ~ ' must be an integer in [0, 2^64), got ' ~ value) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set allowed = {'realism_target_grade': ['B', 'B+'], 'spike_source': ['synthetic', 'events', 'rasters'],
                       'spike_preset': ['crossing', 'flat']} -%}
    {%- for name, values in allowed.items() -%}
        {%- set value = input_var(name) -%}
        {%- if value not in values -%}
            {%- do problems.append(name ~ ' must be one of ' ~ values ~ ', got ' ~ value) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set roles = input_var('model_roles') -%}
    {%- if roles is string or roles is not iterable or roles | length == 0 or '' in roles
           or roles | unique | list | length != roles | length -%}
        {%- do problems.append('model_roles must be a non-empty list of distinct role names, got ' ~ roles) -%}
    {%- endif -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error('bad --vars: ' ~ problems | join('; ')) }}
    {%- endif -%}
    select 1 as vars_checked
{%- endmacro %}
