"""gatehouse: certified analytics pipelines (criticality gain grid, site realism) on dbt + DuckDB."""

__version__ = "0.1.0"
