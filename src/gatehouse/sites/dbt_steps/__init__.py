"""What the dbt Python models of Segment 1B call: the staging loads and the Python states (S0-S6, S9)."""
