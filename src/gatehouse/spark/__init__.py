"""gatehouse on Apache Spark (issue 13, the Python steps).

- `frames`: what the thin Python models read their refs through, the same on DuckDB and Spark
  (importable without pyspark).
- `dbt`: `python -m gatehouse.spark.dbt <dbt args>`, dbt with the Python models run in the
  in-process SparkSession of the dbt-spark `session` connection (`submission`).
- `events`: the two passes over the exceedance events as partitioned Spark jobs (mapInArrow),
  each partition running the same compiled kernels as the DuckDB build.
"""
