"""One way to make a run: a command declares what its run is (`RunSpec`), `execute` does the rest.

    new run (staging dir, config, run id) -> dbt (optional; a first step, then the main one) -> checks
    -> exports -> outputs -> record -> publish

Every step works on one read-only DuckDB connection to the run's warehouse, opened once after dbt (dbt
holds the file while it builds). A command without a dbt step (a transformer capture, say) declares no `select`;
its `outputs` hook then gets no connection and writes its results itself.
"""

from __future__ import annotations

import importlib
import threading
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from gatehouse.runs.core import Run, copy_to_parquet, new_run
from gatehouse.runs.processes import PROCESSES

WAREHOUSE = "warehouse.duckdb"
DBT_MODES = ("build", "run_then_test")


@dataclass(frozen=True)
class Export:
    """The rows of `sql` written to results/<file_name> (zstd parquet), recorded as artifact `logical_name`.
    The query's order decides the bytes, so give one."""
    logical_name: str
    sql: str
    file_name: str

    @classmethod
    def table(cls, logical_name: str, table: str, order_by: str, file_name: str | None = None) -> "Export":
        return cls(logical_name, f"select * from {table} order by {order_by}", file_name or f"{table}.parquet")


@dataclass
class RunSpec:
    """What a command's run is. Hooks get (run, con): `con` is an open connection to the warehouse,
    None when there is no dbt step.

    first_step: (run) -> dbt summary: a dbt step of its own before the main one, into the same
             warehouse (1B: the gate-in models, which may refuse the run); both summaries are recorded;
    after_models: (run) -> a Future or None, run_then_test only: called once the models are built, before the
             gates run (the warehouse is closed then), to start work in the background that reads the models
             (1B: the prior sensitivity's builds start from a copy); the run waits for it before it ends,
             fails when it fails, and on any failure first kills its subprocesses (runs.processes);
    checks:  after dbt, before anything is written (raise RunError to refuse the run); the gates'
             statuses are in run.record["dbt"]["tests"] by then;
    outputs: after the exports, for command-specific results, artifacts and record fields;
             its return value comes back as `Executed.outcome`.
    """
    runs_dir: Path
    phase_id: str
    stage_tag: str
    config: dict
    select: list[str] = field(default_factory=list)  # empty: no dbt step
    exclude: list[str] = field(default_factory=list)
    variables: dict = field(default_factory=dict)     # dbt --vars
    inputs: dict | None = None                        # GATEHOUSE_* env inputs (keeps dbt's partial parse)
    dbt_mode: str = "build"                           # or "run_then_test": every model, then the gates
    dbt_threads: int | None = None                    # build: nodes at once (None: the profile's, 1)
    exports: list[Export] = field(default_factory=list)
    record: dict = field(default_factory=dict)        # fields of run_record.json (phase_id is added)
    first_step: Callable[[Run], dict] | None = None
    after_models: Callable[[Run], Future | None] | None = None
    checks: Callable[[Run, Any], None] | None = None
    outputs: Callable[[Run, Any], Any] | None = None
    record_warehouse: bool = True                     # the warehouse as an artifact (sha256 pinned)
    preload: tuple[str, ...] = ()                     # modules the hooks need, imported while dbt runs


class Executed(NamedTuple):
    run_dir: Path
    outcome: Any = None


def execute(spec: RunSpec) -> Executed:
    """Build, export, record and publish one run as `spec` declares; nothing is published on any error."""
    if spec.dbt_mode not in DBT_MODES:
        raise ValueError(f"dbt_mode {spec.dbt_mode!r}: expected one of {DBT_MODES}")
    if spec.after_models and spec.dbt_mode != "run_then_test":
        raise ValueError("after_models needs dbt_mode run_then_test (a build runs models and gates together)")
    with new_run(spec.runs_dir, spec.stage_tag, spec.config) as run:
        _import_in_background(spec.preload)
        background: list[Future] = []
        try:
            executed = _steps(spec, run, background)
            for future in background:  # failed background work fails the run
                future.result()
            return executed
        except BaseException:  # a failed or interrupted run does not wait for its background builds' results
            PROCESSES.stop_all()
            raise
        finally:  # background work writes into the run's directory: it ends before the run is published or failed
            wait(background)
            PROCESSES.allow()


def _steps(spec: RunSpec, run: Run, background: list[Future]) -> Executed:
    if spec.select:  # the dbt section first: checks may read the gates' statuses in run.record["dbt"]
        first = spec.first_step(run) if spec.first_step else None
        after_models = (lambda: _keep(background, spec.after_models(run))) if spec.after_models else None
        summary = _build(spec, run, after_models)
        run.record_dbt(_merged(first, summary) if first else summary, select=list(spec.select),
                       **({"inputs": spec.inputs} if spec.inputs is not None else {}))
    con = _connect(run.staging / WAREHOUSE) if spec.select else None
    try:
        if spec.checks:
            spec.checks(run, con)
        for export in spec.exports:
            copy_to_parquet(con, export.sql, run.results / export.file_name)
            run.artifact(export.logical_name, f"results/{export.file_name}")
        run.record.update({"phase_id": spec.phase_id, **spec.record})
        outcome = spec.outputs(run, con) if spec.outputs else None
    finally:
        if con is not None:
            con.close()
    if spec.select and spec.record_warehouse:
        run.artifact("warehouse_duckdb", WAREHOUSE)
    return Executed(run.final, outcome)


def _keep(background: list[Future], future: Future | None) -> None:
    if future is not None:
        background.append(future)


def _build(spec: RunSpec, run: Run, after_models: Callable[[], None] | None) -> dict:
    from gatehouse.dbt_invoke import dbt_build, dbt_run_then_test

    database, target = run.staging / WAREHOUSE, run.staging / "dbt"
    if spec.dbt_mode == "run_then_test":
        return dbt_run_then_test(list(spec.select), spec.variables, database, target, spec.exclude or None,
                                 inputs=spec.inputs, after_models=after_models)
    return dbt_build(list(spec.select), spec.variables, database, target, spec.exclude or None, inputs=spec.inputs,
                     threads=spec.dbt_threads)


def _merged(first: dict, second: dict) -> dict:
    """One summary of two dbt steps (nodes sorted by unique_id, as in each step's own summary)."""
    return {**second, "nodes": sorted(first["nodes"] + second["nodes"], key=lambda node: node["unique_id"])}


def _import_in_background(modules: tuple[str, ...]) -> None:
    """Import the hooks' heavy modules (matplotlib: seconds) in a thread while this process only waits for
    the dbt subprocess. A failed import here is ignored: the hook's own import then reports it."""
    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:
                return

    if modules:
        threading.Thread(target=load, name="gatehouse-preload", daemon=True).start()


def _connect(database: Path):
    import duckdb

    return duckdb.connect(str(database), read_only=True)
