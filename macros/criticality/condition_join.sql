{% macro same_condition(keyed, conditions) -%}
    {#- Join predicate: the condition keys (model_role, spike_def_id, target_rate, gain) of `keyed` are those
        of `conditions`, an int_raster_conditions row (key strings there are plain strings, so a stored
        ENUM key is compared as a string). -#}
    cast({{ keyed }}.model_role as string) = {{ conditions }}.model_role
    and cast({{ keyed }}.spike_def_id as string) = {{ conditions }}.spike_def_id
    and {{ keyed }}.target_rate = {{ conditions }}.target_rate
    and {{ keyed }}.gain = {{ conditions }}.gain
{%- endmacro %}
