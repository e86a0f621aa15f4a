"""What the thin Python models read their refs through, so one model file runs on both engines.

On DuckDB `dbt.ref` gives a DuckDB relation and these are its own methods (the DuckDB path is
unchanged); on Spark it gives a pyspark DataFrame, fetched through Arrow. pyspark is never
imported here: the base install has no Spark.
"""

from __future__ import annotations

import numpy as np


def on_spark(relation) -> bool:
    """True for a pyspark DataFrame (a dbt ref on the spark target)."""
    return type(relation).__module__.startswith("pyspark.")


def to_pandas(relation):
    return relation.toArrow().to_pandas() if on_spark(relation) else relation.df()


def to_numpy(relation) -> dict[str, np.ndarray]:
    """Column name -> numpy array, like DuckDB's fetchnumpy."""
    if not on_spark(relation):
        return relation.fetchnumpy()
    table = relation.toArrow()
    return {name: table.column(name).to_numpy() for name in table.column_names}


def select(relation, condition: str | None, columns: list[str], as_text: tuple[str, ...] = (),
           distinct: bool = False):
    """Rows meeting `condition` (SQL both engines read the same; None: every row), with `columns`; those
    in `as_text` cast to text (DuckDB ENUMs become plain strings); `distinct`: without repeated rows."""
    if on_spark(relation):
        selected = relation.filter(condition) if condition else relation
        selected = selected.selectExpr(
            *[f"cast({name} as string) as {name}" if name in as_text else name for name in columns])
    else:
        selected = relation.filter(condition) if condition else relation
        selected = selected.project(
            ", ".join(f"{name}::varchar as {name}" if name in as_text else name for name in columns))
    return selected.distinct() if distinct else selected


def join(left, right, condition: str, columns: list[str], aliases: tuple[str, str] = ("l", "r")):
    """Inner join of two refs on `condition`, which names them by `aliases`, with `columns`."""
    if on_spark(left):
        from pyspark.sql import functions

        return (left.alias(aliases[0]).join(right.alias(aliases[1]), functions.expr(condition))
                .selectExpr(*columns))
    return left.set_alias(aliases[0]).join(right.set_alias(aliases[1]), condition).project(", ".join(columns))


# DuckDB type names Spark spells differently (Spark's VARCHAR needs a length)
SPARK_TYPES = {"VARCHAR": "string"}


def spark_read_parquet(spark, path, columns: dict[str, str], condition: str):
    """A parquet file's `columns` cast to their (DuckDB-named) SQL types, the rows meeting `condition`."""
    casts = [f"cast(`{name}` as {SPARK_TYPES.get(kind, kind)}) as `{name}`" for name, kind in columns.items()]
    return spark.read.parquet(str(path)).selectExpr(*casts).filter(condition)
