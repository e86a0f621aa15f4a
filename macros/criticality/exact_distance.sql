{% macro exact_distance(value, center) -%}
    {#- |value - center| in exact decimal arithmetic, for the g* rule (gstar and gate C-GS-3).

        Doubles misorder decimal distances: |0.85 - 1| = 0.15000000000000002 but |1.15 - 1| =
        0.1499999999999999, so a float comparison breaks a tie that the rule (equally close, then the
        smaller gain) sees. Both sides are rounded to 12 decimal places (DECIMAL(30, 12)) and subtracted
        exactly; precision 30 rather than 38 keeps the difference, DECIMAL(31, 12), exact on Spark too
        (which would round a DECIMAL(38, 12) difference to 11 places). 12 decimals is within what the
        data carries: a double holds 15 significant digits, so every decimal of at most 12 places below
        1000 comes back exactly (grid gains have 2 places, a published b_tot 4 to 6; b_tot is at most 2
        by construction and the metrics input guard refuses anything outside [0, 1000)). Two computed
        b_tot whose distances to 1 agree to 12 places are a tie, which the tie-break settles. -#}
    abs(cast({{ value }} as decimal(30, 12)) - cast({{ center }} as decimal(30, 12)))
{%- endmacro %}
