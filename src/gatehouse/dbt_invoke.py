"""Invoke dbt for a run: its own DuckDB file, target path and vars, in a subprocess.

Run inputs can also go in as GATEHOUSE_<NAME> environment variables (macro input_var): then the
--vars of successive runs are equal and dbt's partial parse, kept in PARSE_CACHE between runs,
spares the full parse of the project (dbt re-parses the files whose env vars changed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import duckdb

from gatehouse import progress
from gatehouse.project import PROJECT_ENV, project_dir
from gatehouse.runs import RunError
from gatehouse.runs.core import disk_full_message
from gatehouse.runs.processes import PROCESSES

DBT_COMMAND = (sys.executable, "-P", "-m", "gatehouse.dbt_main")  # dbt, without the teardown (see dbt_main)
PARSE_CACHE = ("target", "gatehouse-cli")  # under the project directory
AUDIT_SCHEMA = "main_dbt_test__audit"  # where dbt stores each failed gate's rows (store_failures)


def dbt_build(select: list[str], variables: dict, database: Path, target_path: Path,
              exclude: list[str] | None = None, inputs: dict | None = None, threads: int | None = None) -> dict:
    """Run dbt build; return a summary of run_results.json. Raise RunError naming failed nodes.

    With `inputs` (GATEHOUSE_<NAME> environment variables, lists comma-separated), dbt runs in the
    database's directory with a relative database path and reuses the cached partial parse.
    `threads`: how many nodes dbt runs at once (default: the profile's, 1).
    """
    return _invoke("build", select, variables, database, target_path, exclude, inputs=inputs,
                   extra=["--threads", str(threads)] if threads else [])


def dbt_run_then_test(select: list[str], variables: dict, database: Path, target_path: Path,
                      exclude: list[str] | None = None, inputs: dict | None = None,
                      after_models: Callable[[], None] | None = None) -> dict:
    """Build every model first, then run the gates, so a failing gate still leaves every result to read.

    Model errors raise RunError; gate failures (status `fail`) are returned in the summary, with their
    rows stored in the audit schema. Used for grading, where a failing gate is a result, not a crash.
    `after_models` is called between the two steps, while no dbt process holds the database.
    """
    models = dbt_models(select, variables, database, target_path / "models", exclude, inputs=inputs)
    if after_models is not None:
        after_models()
    tests = _invoke("test", select, variables, database, target_path / "test", exclude, failing_ok=("fail",),
                    inputs=inputs)
    return {"invocation_id": tests["invocation_id"], "dbt_version": tests["dbt_version"],
            "nodes": sorted(models["nodes"] + tests["nodes"], key=lambda node: node["unique_id"])}


def dbt_models(select: list[str], variables: dict, database: Path, target_path: Path,
               exclude: list[str] | None = None, inputs: dict | None = None, label: str = "") -> dict:
    """Build the selected seeds and models only (no gates); model errors raise RunError. `label` prefixes
    the step's progress lines (a step beside others)."""
    return _invoke("build", select, variables, database, target_path, exclude,
                   extra=["--resource-type", "seed", "--resource-type", "model"], inputs=inputs, label=label)


def _invoke(subcommand: str, select: list[str], variables: dict, database: Path, target_path: Path,
            exclude: list[str] | None = None, failing_ok: tuple[str, ...] = (), extra: list[str] = (),
            inputs: dict | None = None, label: str = "") -> dict:
    # absolute: with `inputs` dbt runs in the database's directory, where a relative log path would land
    target_path = Path(target_path).resolve()
    project = project_dir()
    command = [*DBT_COMMAND, subcommand, "--project-dir", str(project), "--profiles-dir", str(project / "profiles"),
               "--target-path", str(target_path), "--vars", json.dumps(variables, sort_keys=True),
               "--indirect-selection", "cautious", "--select", *select]
    if exclude:
        command += ["--exclude", *exclude]
    command += list(extra)
    environment = {**os.environ, PROJECT_ENV: str(project), "GATEHOUSE_DB": str(database), "DO_NOT_TRACK": "1",
                   "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false", "DBT_LOG_PATH": str(target_path / "logs")}
    if inputs is None:
        returncode, output = _run_streaming(command, project, environment, f"dbt {subcommand}", label)
    else:  # the profile (database path) and vars must not change from run to run to keep the parse
        environment.update({"GATEHOUSE_DB": database.name, **{
            f"GATEHOUSE_{name.upper()}": ",".join(map(str, value)) if isinstance(value, list) else str(value)
            for name, value in inputs.items()}})
        cached_parse = _cached_parse(project, variables, inputs)
        _restore_parse(cached_parse, variables, target_path)
        returncode, output = _run_streaming(command, database.parent, environment, f"dbt {subcommand}", label)
        _keep_parse(target_path / "partial_parse.msgpack", cached_parse)
    results_path = target_path / "run_results.json"
    full_disk = disk_full_message(output, database.parent)
    if full_disk:
        raise RunError(full_disk)
    if not results_path.exists():
        raise RunError(f"dbt build did not run:\n{output[-4000:]}")
    summary = summarise_results(results_path, target_path / "manifest.json")
    for scratch in ("partial_parse.msgpack", "graph.gpickle", "graph_summary.json", "semantic_manifest.json"):
        (target_path / scratch).unlink(missing_ok=True)
    failed = [node for node in summary["nodes"]
              if node["status"] in ("error", "fail", "runtime error") and node["status"] not in failing_ok]
    if failed or (returncode != 0 and not failing_ok):
        raise RunError("dbt build failed:\n" + "\n".join(
            f"- {node['name']} [{node['status']}]: {_essential(node['message'])}{_first_failures(database, node)}"
            for node in failed))
    return summary


def _run_streaming(command: list[str], cwd: Path, environment: dict, name: str,
                   label: str = "") -> tuple[int, str]:
    """Run dbt (`name`: how the progress line calls it), echoing each finished node as a progress line;
    (return code, whole output).
    On any interruption (Ctrl-C, SIGTERM) the dbt child is killed before the exception goes on; a failing
    run kills it from another thread (PROCESSES.stop_all)."""
    progress.say(progress.labelled(label, f"{name} started"))
    lines = []
    with PROCESSES.started(command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True) as process:
        try:
            for line in process.stdout:
                lines.append(line)
                progress.dbt_line(line, label)
            process.wait()
        finally:
            process.stdout.close()
    return process.returncode, "".join(lines)


def _first_failures(database: Path, node: dict, limit: int = 3) -> str:
    """The first rows a failed gate stored in the audit schema, as text ('' when there are none)."""
    if node["status"] != "fail" or not node["unique_id"].startswith("test."):
        return ""
    try:
        con = duckdb.connect(str(database), read_only=True)
        try:
            frame = con.execute(f'select * from {AUDIT_SCHEMA}."{node["name"]}" limit {limit}').df()
        finally:
            con.close()
    except duckdb.Error:
        return ""
    rows = "; ".join(str(row) for row in frame.to_dict(orient="records"))
    return f"\n    first failing rows ({AUDIT_SCHEMA}.{node['name']}): {rows}" if rows else ""


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def _cached_parse(project: Path, variables: dict, inputs: dict) -> Path:
    """One saved parse per (vars, inputs): dbt re-parses every file whose env vars changed since the parse it
    is given, so a repeated command with the same inputs (the usual case) re-parses nothing."""
    return project.joinpath(*PARSE_CACHE) / f"partial_parse-{_digest(variables)}-{_digest(inputs)}.msgpack"


def _restore_parse(cached: Path, variables: dict, target_path: Path) -> None:
    """Give dbt the saved parse of these inputs, else the newest one with the same vars (then dbt re-parses
    only the files that read a changed input), else none (a full parse)."""
    candidates = [cached] if cached.is_file() else sorted(
        cached.parent.glob(f"partial_parse-{_digest(variables)}-*.msgpack"), key=_mtime, reverse=True)
    for candidate in candidates:
        try:
            target_path.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(candidate, target_path / "partial_parse.msgpack")
            return
        except OSError:  # removed meanwhile by another run's pruning
            continue


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


KEPT_PARSES = 12  # saved parses (about 1.5 MB each); the least recently saved go first


def _keep_parse(parsed: Path, cached: Path) -> None:
    """Save dbt's partial parse for the next run with the same vars and inputs (best effort, atomic)."""
    if not parsed.is_file():
        return
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        scratch = cached.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(parsed, scratch)
        os.replace(scratch, cached)
        for stale in sorted(cached.parent.glob("partial_parse-*.msgpack"), key=_mtime, reverse=True)[KEPT_PARSES:]:
            stale.unlink(missing_ok=True)
    except OSError:
        pass


def _essential(message: str | None) -> str:
    """The informative line of a dbt error (our own error classes carry the file/column/problem)."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    for marker in ("InputError: ", "RateMatchError: ", "GeodataError: ", "PolicyError: ", "Error: "):
        for line in reversed(lines):
            if marker in line:
                return line.rsplit(marker, 1)[1]
    return lines[-1] if lines else ""


def summarise_results(results_path: Path, manifest_path: Path) -> dict:
    with open(results_path) as handle:
        results = json.load(handle)
    meta = {}
    if manifest_path.exists():
        with open(manifest_path) as handle:
            nodes = json.load(handle).get("nodes", {})
        meta = {uid: node.get("config", {}).get("meta", {}) for uid, node in nodes.items()}
    summary_nodes = [{
        "unique_id": result["unique_id"], "name": result["unique_id"].split(".")[2],
        "status": result["status"], "failures": result.get("failures"), "message": result.get("message"),
        "gate": meta.get(result["unique_id"], {}).get("gate"),
    } for result in results["results"]]
    return {"invocation_id": results["metadata"]["invocation_id"], "dbt_version": results["metadata"]["dbt_version"],
            "nodes": sorted(summary_nodes, key=lambda node: node["unique_id"])}


def test_statuses(summary: dict) -> list[dict]:
    """The status of every test of the build, for run_record.json."""
    return [{key: node[key] for key in ("name", "unique_id", "status", "failures", "gate")}
            for node in summary["nodes"] if node["unique_id"].startswith(("test.", "unit_test."))]
