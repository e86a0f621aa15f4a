"""Where the passes over the events read them from, in Arrow batches.

- `RelationEvents`: any DuckDB relation with the staging columns (the synthetic table; for user
  files, the sorted read when the events are not stored by sequence).
- `ParquetEvents`: a user parquet file read row group by row group with pyarrow, which decodes
  about three times faster than fetching the same columns through DuckDB; row groups of other
  model roles are skipped by their statistics. The rows are those of `stg_spikes__events`.

Both hand out numpy arrays with the staging types and read one batch ahead in a background
thread while the caller's kernel (which releases the GIL) works on the current one.
"""

from __future__ import annotations

import queue
import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BATCH_ROWS = 1 << 22
ARROW_TYPES = {"gain": pa.float64(), "seq_id": pa.int32(), "layer": pa.int32(), "token": pa.int32(),
               "unit": pa.int32(), "z": pa.float32()}


class EventsError(ValueError):
    """A problem with the events; the caller prefixes the source it came from."""


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _arrays(table_or_batch, columns, role: str) -> list[np.ndarray]:
    arrays = []
    for name in columns:
        column = table_or_batch.column(name)
        if column.null_count:
            raise EventsError(f"column {name}: {column.null_count} null or mistyped value(s) in a batch of "
                              f"model_role {role}")
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_decimal(column.type):  # via text: Arrow's decimal -> double cast is not correctly rounded
            column = column.cast(pa.string())  # (0.70 -> 0.7000000000000001, DuckDB's cast gives 0.7)
        if name == "z" and pa.types.is_float64(column.type) and _beyond_float32(column):
            raise EventsError("column z: finite value(s) beyond the float32 range (|z| > 3.4e38) would become inf")
        if column.type != ARROW_TYPES[name]:
            try:
                column = column.cast(ARROW_TYPES[name])
            except pa.ArrowInvalid as error:
                raise EventsError(f"column {name}: value(s) do not fit {ARROW_TYPES[name]} ({error})") from None
        arrays.append(column.to_numpy())
    return arrays


def _beyond_float32(column: pa.Array) -> bool:
    largest = pc.max(pc.abs(pc.if_else(pc.is_finite(column), column, 0.0))).as_py()
    return largest is not None and largest > np.finfo(np.float32).max


class RelationEvents:
    """Events from a DuckDB relation (columns of stg_spikes__events)."""

    def __init__(self, relation):
        self.relation = relation

    def batches(self, role: str, columns: tuple[str, ...], order: str | None = None):
        selected = self.relation.filter(f"model_role = {sql_string(role)}").project(", ".join(columns))
        if order:
            selected = selected.order(order)
        for batch in prefetched(iter(selected.to_arrow_reader(BATCH_ROWS))):
            yield _arrays(batch, columns, role)


class ParquetEvents(RelationEvents):
    """Events read straight from their parquet file; `relation` (the staging view) serves sorting."""

    def __init__(self, path, relation):
        super().__init__(relation)
        self.path = str(path)

    def batches(self, role: str, columns: tuple[str, ...], order: str | None = None):
        if order:
            yield from super().batches(role, columns, order)
        else:
            yield from self._read(role, columns)

    def _read(self, role: str, columns: tuple[str, ...]):
        parquet = pq.ParquetFile(self.path)
        groups = list(self._role_groups(parquet, role))

        def tables():
            for index, mixed in groups:
                table = parquet.read_row_group(index, columns=list(columns) + (["model_role"] if mixed else []))
                yield table.filter(pc.equal(table["model_role"], role)) if mixed else table

        for table in prefetched(tables()):
            if table.num_rows:
                yield _arrays(table, columns, role)

    @staticmethod
    def _role_groups(parquet, role: str):
        """(row group, needs a row filter) for the row groups that can hold `role`."""
        position = parquet.schema_arrow.get_field_index("model_role")
        for index in range(parquet.num_row_groups):
            statistics = parquet.metadata.row_group(index).column(position).statistics
            if statistics is None or not statistics.has_min_max or statistics.null_count:
                yield index, True
            elif statistics.min == statistics.max == role:
                yield index, False
            elif statistics.min <= role <= statistics.max:
                yield index, True


def prefetched(items, depth: int = 2):
    """Iterate `items` from a background thread, `depth` ahead; its errors re-raise here."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    done, stop = object(), threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in items:
                if not offer(item):
                    return
            offer(done)
        except BaseException as error:  # handed to the consumer
            offer(error)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def fan_out(items, consumers, depth: int = 2) -> None:
    """Call every consumer on every item, each consumer in its own thread, the items read once
    (here). The first error of a consumer or of the items is raised once all threads ended."""
    done, stop, errors = object(), threading.Event(), []
    handoffs = [queue.Queue(maxsize=depth) for _ in consumers]

    def run(consume, handoff):
        while (item := handoff.get()) is not done:
            if stop.is_set():
                continue  # drain, so the producer never blocks
            try:
                consume(item)
            except BaseException as error:
                errors.append(error)
                stop.set()

    threads = [threading.Thread(target=run, args=pair, daemon=True) for pair in zip(consumers, handoffs)]
    for thread in threads:
        thread.start()
    try:
        for item in items:
            if stop.is_set():
                break
            for handoff in handoffs:
                handoff.put(item)
    finally:
        for handoff in handoffs:
            handoff.put(done)
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]
