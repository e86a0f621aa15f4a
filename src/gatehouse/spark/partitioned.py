"""A per-group step on Spark: the same pandas function the DuckDB build calls on the whole table, called on
every group (a country, a seed) inside the executors with applyInArrow.

Only for steps whose rows of one group depend on that group alone (counter-based RNG keyed by the group's
own ids, geometry of its own country), so the union over groups is the whole-table result.

A named error (a message starting with an E-code, e.g. E613) raised by the step in a group does not fail
its task: the group returns it as data, and the driver raises the error of the first failing group in a
fixed order, so the user sees the same line whichever task ran first, not an executor's traceback.
"""

from __future__ import annotations

import json

import pyarrow as pa
from pyspark.sql import DataFrame, functions
from pyspark.sql.pandas.types import from_arrow_schema

from gatehouse.spark.frames import is_named_error
from gatehouse.spark.submission import plain_arrow

PROBLEM = "__gatehouse_group_problem"


class GroupStepError(RuntimeError):
    """The named error of the first failing group, raised on the driver with the step's own message."""


def per_group(frame: DataFrame, keys: list[str], step, sample_order: str, group_rank=None) -> DataFrame:
    """step(pandas rows of one group) -> pandas frame, for every group of `keys`. The output schema is
    that of step on one group, run here first: the first group by `sample_order` (pick a cheap one).
    group_rank(dict key -> value) orders the failing groups (default: by the key values)."""
    rank = group_rank or (lambda group: tuple(group[key] for key in keys))
    sample_key = frame.orderBy(functions.expr(sample_order)).select(*keys).limit(1)
    try:
        schema = _widest_decimals(plain_arrow(step(frame.join(sample_key, keys).toArrow().to_pandas())).schema)
    except Exception as error:
        if not is_named_error(error):
            raise
        # the sample group fails, and may not be the first failing one: a problems-only pass names that
        _raise_first_problem(frame.groupBy(*keys).applyInArrow(_guarded(step, keys, None), f"{PROBLEM} string"), rank)
        raise
    with_problems = pa.schema([*schema, pa.field(PROBLEM, pa.string())])
    result = frame.groupBy(*keys).applyInArrow(_guarded(step, keys, with_problems),
                                               from_arrow_schema(with_problems)).persist()
    _raise_first_problem(result, rank)  # computes every group once; the table is then written from the cache
    return result.filter(f"{PROBLEM} is null").drop(PROBLEM)


def _guarded(step, keys: list[str], with_problems: pa.Schema | None):
    """The function run on every group: the step's rows plus an empty problem column, or one row holding
    the group's key and named error (all that is returned when with_problems is None)."""
    def run(rows: pa.Table) -> pa.Table:
        try:
            output = step(rows.to_pandas())
        except Exception as error:
            if not is_named_error(error):
                raise
            group = {key: rows.column(key)[0].as_py() for key in keys}
            problem = json.dumps({"group": group, "message": str(error)}, default=str)
            return pa.Table.from_pylist([{PROBLEM: problem}], schema=with_problems or _problem_schema())
        if with_problems is None:
            return pa.Table.from_pylist([], schema=_problem_schema())
        table = plain_arrow(output).cast(pa.schema(list(with_problems)[:-1]))
        return table.append_column(PROBLEM, pa.nulls(table.num_rows, pa.string()))
    return run


def _problem_schema() -> pa.Schema:
    return pa.schema([pa.field(PROBLEM, pa.string())])


def _raise_first_problem(result: DataFrame, rank) -> None:
    problems = [json.loads(row[0]) for row in result.filter(f"{PROBLEM} is not null").select(PROBLEM).collect()]
    if problems:
        raise GroupStepError(min(problems, key=lambda problem: rank(problem["group"]))["message"])


def _widest_decimals(schema: pa.Schema) -> pa.Schema:
    """Decimals at Spark's largest precision: pandas gives Decimal objects, and Arrow sizes a decimal by the
    values it sees, so the sample group's precision (seed 7: 1 digit) would not hold another group's (101)."""
    return pa.schema([pa.field(field.name, pa.decimal128(38, field.type.scale))
                      if pa.types.is_decimal(field.type) else field for field in schema])
