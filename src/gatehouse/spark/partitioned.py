"""A per-group step on Spark: the same pandas function the DuckDB build calls on the whole table, called on
every group (a country, a seed) inside the executors with applyInArrow.

Only for steps whose rows of one group depend on that group alone (counter-based RNG keyed by the group's
own ids, geometry of its own country), so the union over groups is the whole-table result.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame, functions
from pyspark.sql.pandas.types import from_arrow_schema

from gatehouse.spark.submission import plain_arrow


def per_group(frame: DataFrame, keys: list[str], step, sample_order: str) -> DataFrame:
    """step(pandas rows of one group) -> pandas frame, for every group of `keys`. The output schema is
    that of step on one group, run here first: the first group by `sample_order` (pick a cheap one)."""
    sample_key = frame.orderBy(functions.expr(sample_order)).select(*keys).limit(1)
    schema = _widest_decimals(plain_arrow(step(frame.join(sample_key, keys).toArrow().to_pandas())).schema)

    def run(rows):
        return plain_arrow(step(rows.to_pandas())).cast(schema)

    return frame.groupBy(*keys).applyInArrow(run, from_arrow_schema(schema))


def _widest_decimals(schema: pa.Schema) -> pa.Schema:
    """Decimals at Spark's largest precision: pandas gives Decimal objects, and Arrow sizes a decimal by the
    values it sees, so the sample group's precision (seed 7: 1 digit) would not hold another group's (101)."""
    return pa.schema([pa.field(field.name, pa.decimal128(38, field.type.scale))
                      if pa.types.is_decimal(field.type) else field for field in schema])
