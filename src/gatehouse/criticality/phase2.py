"""The four Phase 2 commands: gain-grid and select-gstar, per model role, each its own run."""

from __future__ import annotations

import json
from pathlib import Path

from gatehouse.criticality import SYNTHETIC_GENERATOR
from gatehouse.criticality import phase2_outputs as outputs
from gatehouse.project import canon
from gatehouse.runs import EXIT_MISSING_DEPENDENCY, RunError, published_runs, sha256_file
from gatehouse.runs.errors import missing_file
from gatehouse.runs.execute import Export, RunSpec, execute

GRID_PHASE, GSTAR_PHASE = "PHASE2_GAIN_GRID", "PHASE2_SELECT_GSTAR"
GRID_SELECT = ["+gain_grid_metrics", "+tau_rate_matched"]
GSTAR_SELECT = ["+gstar", "canon_gain_grid"]
METRICS_ORDER = "model_role, spike_def_id, target_rate, gain"
NO_FILES = {f"spike_{name}_path": "" for name in ("events", "summaries", "rasters", "conditions")}
# Up to this many events dbt builds two nodes at once: with two at once, a build of 19,946,255 events
# peaked at 5.9 GiB (`python -m bench.criticality_bench --events 2e7 --repeat 1 --no-default`), far inside
# the machine; at 1e8 one node alone holds ~17.5 GiB (BENCHMARKS.md), so larger inputs build one node at
# a time. The outputs are the same either way.
TWO_NODES_MAX_EVENTS = 20_000_000


def _condition_label(spike_def_id: str, target_rate: float) -> str:
    return f"{spike_def_id}|{float(target_rate)!r}"


def _input_spec(events, summaries, rasters, conditions, preset: str, seed: int) -> tuple[dict, dict]:
    """(config section, dbt inputs) for the chosen spike source; files are identified by sha256."""
    if events or summaries:
        if not (events and summaries):
            raise RunError("--events and --summaries go together")
        files = {"events": Path(events).resolve(), "summaries": Path(summaries).resolve()}
        source = "events"
    elif rasters or conditions:
        if not (rasters and conditions):
            raise RunError("--rasters and --conditions go together")
        files = {"rasters": Path(rasters).resolve(), "conditions": Path(conditions).resolve()}
        source = "rasters"
    else:
        # the generator's version is part of the config, so a changed generator gives a new run id
        return ({"spike_source": "synthetic", "preset": preset, "seed": seed, "generator": SYNTHETIC_GENERATOR},
                {**NO_FILES, "spike_source": "synthetic", "spike_preset": preset, "spike_seed": seed})
    for name, path in files.items():
        if not path.is_file():
            raise RunError(f"{path}: {missing_file(path)} (--{name})")
    config = {"spike_source": source, "files": {name: {"name": path.name, "sha256": sha256_file(path)}
                                                for name, path in files.items()}}
    variables = {**NO_FILES, "spike_source": source, "spike_preset": preset, "spike_seed": seed,
                 **{f"spike_{name}_path": str(path) for name, path in files.items()}}
    return config, variables


def _dbt_threads(variables: dict) -> int:
    """2 for the synthetic data (3M events) and event files of at most TWO_NODES_MAX_EVENTS rows, else 1
    (also for a file that is not parquet: the build's input checks then name its problem)."""
    if variables["spike_source"] == "synthetic":
        return 2
    if variables["spike_source"] != "events":
        return 1
    import pyarrow
    import pyarrow.parquet

    try:
        rows = pyarrow.parquet.ParquetFile(variables["spike_events_path"]).metadata.num_rows
    except (OSError, pyarrow.ArrowException):
        return 1
    return 2 if rows <= TWO_NODES_MAX_EVENTS else 1


def _check_unchanged(input_config: dict, variables: dict) -> None:
    """Re-hash the input files after the build (the events are read in place, not copied): results from
    a file that changed meanwhile match no pinned sha256, so the run is refused and nothing is published."""
    for name, pinned in input_config.get("files", {}).items():
        path = Path(variables[f"spike_{name}_path"])
        now = sha256_file(path) if path.is_file() else "missing"
        if now != pinned["sha256"]:
            raise RunError(f"{path}: --{name} changed while the build ran (sha256 {pinned['sha256'][:12]} before, "
                           f"{now[:12]} after); nothing was published")


def _base_config(phase_id: str, model_role: str) -> dict:
    constants = canon()
    if model_role not in constants["model_roles"]:
        raise RunError(f"--model-role {model_role!r}: expected one of {list(constants['model_roles'])}")
    return {"project_id": "gatehouse", "phase_id": phase_id, "model_role": model_role,
            "canon": {key: list(value) if isinstance(value, tuple) else value for key, value in constants.items()}}


def gain_grid(runs_dir: Path, model_role: str = "INSTRUCT", events=None, summaries=None, rasters=None,
              conditions=None, preset: str = "crossing", seed: int = 1337, dep: str | None = None) -> Path:
    dependencies = [dep] if dep else []
    if dep:  # the events and summaries of a `phase2 capture` run, and its model role
        from gatehouse.criticality.capture import capture_outputs
        events, summaries, model_role = capture_outputs(runs_dir, dep, events, summaries, rasters, conditions)
    input_config, variables = _input_spec(events, summaries, rasters, conditions, preset, seed)
    config = {**_base_config(GRID_PHASE, model_role), "inputs": input_config,
              **({"dependencies": dependencies} if dep else {})}

    def grid_outputs(run, con) -> None:
        run.record["conditions"] = [f"{_condition_label(sd, tr)}|{float(g)!r}" for sd, tr, g in con.execute(
            "select spike_def_id, target_rate, gain from gain_grid_metrics order by spike_def_id, gain, target_rate"
        ).fetchall()]
        outputs.write_grid_figures(run, con)

    return execute(RunSpec(
        runs_dir, GRID_PHASE, "S02", config, select=GRID_SELECT, inputs={**variables, "model_roles": [model_role]},
        dbt_threads=_dbt_threads(variables),
        exports=[Export("metrics_parquet", f"select * from gain_grid_metrics order by {METRICS_ORDER}",
                        "metrics.parquet"),
                 Export("tau_rate_matched_parquet", f"select * from tau_rate_matched order by {METRICS_ORDER}, layer",
                        "tau_rate_matched.parquet"),
                 outputs.AVALANCHES_EXPORT],
        record={"model_role": model_role, "inputs": input_config, "dependencies": dependencies},
        checks=lambda run, con: _check_unchanged(input_config, variables), outputs=grid_outputs,
        preload=outputs.FIGURE_MODULES)).run_dir


def _grid_dependency(runs_dir: Path, model_role: str, dep: str | None) -> dict:
    grids = [record for record in published_runs(runs_dir) if record.get("phase_id") == GRID_PHASE]
    if dep:
        chosen = [record for record in grids if record["run_id"] == dep]
        if not chosen:
            raise RunError(f"--dep {dep}: no completed gain-grid run with that id under {runs_dir}",
                           EXIT_MISSING_DEPENDENCY)
        return chosen[0]
    matching = [record for record in grids if record.get("model_role") == model_role]
    if len(matching) != 1:
        found = ", ".join(record["run_id"] for record in matching) or "none"
        raise RunError(f"select-gstar needs exactly one completed gain-grid run for model_role {model_role} "
                       f"under {runs_dir} (found: {found}); pass --dep RUN_ID or --metrics PATH",
                       EXIT_MISSING_DEPENDENCY)
    return matching[0]


def select_gstar(runs_dir: Path, model_role: str = "INSTRUCT", dep: str | None = None,
                 metrics: str | None = None) -> Path:
    if metrics and dep:  # else --dep would be silently ignored, whether or not that run exists
        raise RunError(f"--dep {dep} and --metrics {metrics}: give one, a gain-grid run or a metrics file")
    if metrics:
        metrics_path, dependencies = Path(metrics).resolve(), []
        if not metrics_path.is_file():
            raise RunError(f"{metrics_path}: {missing_file(metrics_path)} (--metrics)", EXIT_MISSING_DEPENDENCY)
    else:
        grid = _grid_dependency(runs_dir, model_role, dep)
        model_role = grid["model_role"]
        metrics_path, dependencies = Path(runs_dir).resolve() / grid["run_id"] / grid["artifacts"]["metrics_parquet"], [grid["run_id"]]
    from gatehouse.criticality import loaders  # pandas and duckdb: only this command needs them before dbt

    loaders.validate_metrics(metrics_path)
    source = {"name": metrics_path.name, "sha256": sha256_file(metrics_path), "run_id": (dependencies or [None])[0]}
    config = {**_base_config(GSTAR_PHASE, model_role), "gstar_method": "btot_near_one", "source_metrics": source}

    def gstar_outputs(run, con) -> None:
        document = _gstar_document(con, model_role, source)
        if not document["by_condition"]:
            raise RunError(f"{metrics_path}: no rows for model_role {model_role}")
        with open(run.results / "gstar.json", "w") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
            handle.write("\n")
        outputs.warn_about_the_grid(document)
        outputs.write_gstar_figure(run, con, model_role)
        run.record["conditions"] = sorted(document["by_condition"])
        run.artifact("gstar_json", "results/gstar.json")

    inputs = {"gstar_metrics_path": str(metrics_path), "gstar_model_role": model_role, "model_roles": [model_role]}
    return execute(RunSpec(
        runs_dir, GSTAR_PHASE, "S02B", config, select=GSTAR_SELECT, inputs=inputs, outputs=gstar_outputs,
        preload=outputs.FIGURE_MODULES,
        record={"model_role": model_role, "dependencies": dependencies, "source_metrics": source})).run_dir


def _gains_missing(con, model_role: str) -> dict[str, list[float]]:
    """Per condition label, the gains of the grid its b_tot curve lacks (a metrics table on a coarser grid)."""
    grid = canon()["gain_grid"]
    rows = con.execute("select spike_def_id, target_rate, list(distinct gain) from int_grid_metrics_restricted "
                       "where model_role = ? group by all", [model_role]).fetchall()
    return {_condition_label(spike_def, rate): sorted(set(grid) - set(gains)) for spike_def, rate, gains in rows}


def _gstar_document(con, model_role: str, source: dict) -> dict:
    frame = con.execute("select * from gstar where model_role = ? order by spike_def_id, target_rate",
                        [model_role]).df()
    gains_missing = _gains_missing(con, model_role)
    by_condition = {}
    for row in frame.itertuples(index=False):
        by_condition[_condition_label(row.spike_def_id, row.target_rate)] = {
            "spike_def_id": row.spike_def_id, "target_rate": float(row.target_rate), "gstar": float(row.gstar),
            "b_tot_at_gstar": float(row.b_tot_at_gstar), "abs_err_at_gstar": float(row.abs_err_at_gstar),
            "n_tied": int(row.n_tied), "tie_break_applied": bool(row.tie_break_applied),
            "crosses_one_in_grid": bool(row.crosses_one_in_grid), "gstar_at_grid_edge": bool(row.gstar_at_grid_edge),
            "b_tot_slope": float(row.b_tot_slope), "metrics_content_sha256": row.metrics_content_sha256,
            "grid_gains_missing": gains_missing[_condition_label(row.spike_def_id, row.target_rate)],
            **outputs.gstar_annotations(row),
        }
    return {"method": "btot_near_one", "model_role": model_role, "tie_break": "closest_to_gain_baseline_then_smaller",
            "source_metrics_sha256": source["sha256"], "source_run_id": source["run_id"], "by_condition": by_condition}
