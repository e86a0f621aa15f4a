"""What the thin Python models read their refs through, so one model file runs on both engines.

On DuckDB `dbt.ref` gives a DuckDB relation and these are its own methods (the DuckDB path is
unchanged); on Spark it gives a pyspark DataFrame, fetched through Arrow. pyspark is never
imported here: the base install has no Spark.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

NAMED_ERROR = re.compile(r"E\d{3}_[A-Z0-9_]+: ")  # our errors for bad input start with their code


def on_spark(relation) -> bool:
    """True for a pyspark DataFrame (a dbt ref on the spark target)."""
    return type(relation).__module__.startswith("pyspark.")


def to_pandas(relation):
    return relation.toArrow().to_pandas() if on_spark(relation) else relation.df()


def to_numpy(relation) -> dict[str, np.ndarray]:
    """Column name -> numpy array (columns without NULLs), through Arrow on both engines (on DuckDB
    2-3x faster than fetchnumpy for millions of rows)."""
    table = relation.toArrow() if on_spark(relation) else relation.to_arrow_table()
    return {name: table.column(name).to_numpy() for name in table.column_names}


def is_named_error(error: BaseException) -> bool:
    return bool(NAMED_ERROR.match(str(error)))


def per_seed_and_country(relation, seeds: list[int], step, sample_order: str):
    """step(rows of one seed, seed) -> pandas frame, for every seed. On Spark per (seed, legal country) on
    the executors: only for steps whose rows of a pair depend on that pair alone (draws keyed by the pair,
    its own country's geometry); on DuckDB per seed, in the order of `seeds`. A named error reports the
    first failing pair (seeds in that order, countries sorted) on both engines."""
    if on_spark(relation):
        from gatehouse.spark.partitioned import per_group

        return per_group(relation, ["seed", "legal_country_iso"], lambda rows: step(rows, int(rows["seed"].iloc[0])),
                         sample_order, group_rank=lambda pair: (seeds.index(int(pair["seed"])),
                                                                pair["legal_country_iso"]))
    frame = to_pandas(relation)
    return pd.concat([_step_of_seed(frame[frame.seed == seed], seed, step) for seed in seeds], ignore_index=True)


def _step_of_seed(rows, seed: int, step):
    try:
        return step(rows, seed)
    except Exception as error:
        if not is_named_error(error):
            raise
        for country in sorted(rows["legal_country_iso"].unique()):  # raises the first failing pair's error
            step(rows[rows["legal_country_iso"] == country], seed)
        raise


def select(relation, condition: str | None, columns: list[str], distinct: bool = False):
    """Rows meeting `condition` (SQL both engines read the same; None: every row), with `columns`;
    `distinct`: without repeated rows."""
    selected = relation.filter(condition) if condition else relation
    selected = selected.selectExpr(*columns) if on_spark(relation) else selected.project(", ".join(columns))
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
