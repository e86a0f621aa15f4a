{% macro sha256_hex(text) -%}
    {#- SHA-256 of a string's UTF-8 bytes as 64 lower-case hex digits. -#}
    {{ return(adapter.dispatch('sha256_hex', 'gatehouse')(text)) }}
{%- endmacro %}

{% macro default__sha256_hex(text) -%}
    sha256({{ text }})
{%- endmacro %}

{% macro spark__sha256_hex(text) -%}
    sha2({{ text }}, 256)
{%- endmacro %}
