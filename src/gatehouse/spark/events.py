"""The two passes over the exceedance events as Spark jobs, partitioned by sequence.

The events of one model role are hash-partitioned by (gain, seq_id) and sorted within each
partition, so every sequence lies whole and in the documented order in one partition. Each
partition runs the pass of `event_scan` (the same compiled kernels as the DuckDB build) through
mapInArrow; pass 1 returns its partial histogram and scan report, which sum, pass 2 its layer rows.
Partitioning does not change the numbers: histograms add, and a sequence's rows depend on that
sequence only. Problems found in a partition come back as data and are raised here, so an error
names the column and the problem as on DuckDB, not a worker traceback.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from gatehouse.criticality import event_kernels as kernels
from gatehouse.criticality import event_scan
from gatehouse.criticality.event_readers import EventsError, _arrays
from gatehouse.criticality.event_scan import PASS1_COLUMNS, PASS2_COLUMNS, RasterPlan, RoleLayout, ScanReport

DUPLICATE_KEY = ("model_role", "gain", "seq_id", "token", "layer", "unit")
SCAN_SCHEMA = pa.schema([("hist_index", pa.binary()), ("hist_count", pa.binary()), ("issues", pa.binary()),
                         ("events_per_gain", pa.binary()), ("tallies", pa.binary()), ("bad_gain", pa.float64()),
                         ("error", pa.string())])
RASTER_SCHEMA = pa.schema([(name, pa.int64()) for name in kernels.LAYER_COLUMNS])


class SparkEvents:
    """The events of stg_spikes__events as a Spark DataFrame; the passes of event_scan call
    `scan_role`, `raster_rows` and `duplicate_event_check` of this reader."""

    def __init__(self, frame: DataFrame):
        self.frame = frame

    def _sequences(self, role: str, columns: tuple[str, ...]) -> DataFrame:
        """The role's events, each sequence in one partition, in the documented order."""
        order = [name for name in ("gain", "seq_id", "layer", "token", "unit") if name in columns]
        return (self.frame.filter(F.col("model_role") == role).select(*columns)
                .repartition("gain", "seq_id").sortWithinPartitions(*order))

    def scan_role(self, layout: RoleLayout, bins: int) -> tuple[np.ndarray, ScanReport]:
        parts = self._sequences(layout.role, PASS1_COLUMNS).mapInArrow(_scan_partition(layout, bins),
                                                                        _spark_schema(SCAN_SCHEMA)).toArrow()
        errors = sorted(error for error in parts.column("error").to_pylist() if error)
        if errors:
            raise EventsError(errors[0])
        hist = np.zeros(layout.lo.shape + (bins,), dtype=np.int64)
        issues = np.zeros(len(kernels.ISSUES), dtype=np.int64)
        events_per_gain = np.zeros(layout.gains.size, dtype=np.int64)
        tallies = np.zeros(layout.lo.shape + (len(kernels.TALLIES),), dtype=np.int64)
        bad_gains = []
        for part in parts.to_pylist():
            hist.ravel()[np.frombuffer(part["hist_index"], dtype=np.int64)] += np.frombuffer(part["hist_count"],
                                                                                             dtype=np.int64)
            part_issues = np.frombuffer(part["issues"], dtype=np.int64)
            issues += part_issues
            events_per_gain += np.frombuffer(part["events_per_gain"], dtype=np.int64)
            tallies += np.frombuffer(part["tallies"], dtype=np.int64).reshape(tallies.shape)
            if part_issues[kernels.BAD_GAIN]:
                bad_gains.append(part["bad_gain"])
        return hist, ScanReport(issues, min(bad_gains) if bad_gains else 0.0, events_per_gain, tallies)

    def raster_rows(self, plan: RasterPlan) -> np.ndarray:
        """[kernels.LAYER_COLUMNS, rows] of every sequence of the plan's role."""
        rows = self._sequences(plan.role, PASS2_COLUMNS).mapInArrow(_raster_partition(plan),
                                                                     _spark_schema(RASTER_SCHEMA)).toArrow()
        return np.vstack([rows.column(name).to_numpy() for name in kernels.LAYER_COLUMNS])

    def duplicate_event_check(self, role: str) -> None:
        keys = list(DUPLICATE_KEY)
        duplicates = (self.frame.filter(F.col("model_role") == role).groupBy(*keys).count()
                      .filter(F.col("count") > 1).orderBy(*keys).limit(1).collect())
        if duplicates:
            raise event_scan.duplicate_event_error(tuple(duplicates[0]))


def _spark_schema(schema: pa.Schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _partition_arrays(batches, columns: tuple[str, ...], role: str):
    for batch in batches:
        if batch.num_rows:
            yield _arrays(batch, columns, role)


def _scan_partition(layout: RoleLayout, bins: int):
    """Pass 1 of one partition: its histogram (non-zero bins) and scan report, or the problem it found."""
    def scan(batches):
        try:
            hist, report = event_scan.scan_batches(_partition_arrays(batches, PASS1_COLUMNS, layout.role),
                                                   layout, bins)
        except EventsError as error:
            yield pa.RecordBatch.from_pylist([{"error": str(error)}], schema=SCAN_SCHEMA)
            return
        index = np.flatnonzero(hist)
        yield pa.RecordBatch.from_pylist([{
            "hist_index": index.astype(np.int64).tobytes(), "hist_count": hist.ravel()[index].tobytes(),
            "issues": report.issues.astype(np.int64).tobytes(),
            "events_per_gain": report.events_per_gain.astype(np.int64).tobytes(),
            "tallies": report.tallies.astype(np.int64).tobytes(), "bad_gain": report.bad_gain,
            "error": None}], schema=SCAN_SCHEMA)
    return scan


def _raster_partition(plan: RasterPlan):
    """Pass 2 of one partition: the layer rows of its sequences."""
    def rasters(batches):
        rows = event_scan.raster_batches(_partition_arrays(batches, PASS2_COLUMNS, plan.role), plan)
        if rows is None:  # cannot happen after sortWithinPartitions; say so rather than miscount
            raise RuntimeError(f"events of model_role {plan.role} not grouped by sequence within a partition")
        yield pa.RecordBatch.from_arrays([pa.array(column, pa.int64()) for column in rows], schema=RASTER_SCHEMA)
    return rasters
