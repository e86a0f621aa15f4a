"""Run directories: content-hash run ids, resolved config, atomic publish, run_record.json.

A run is built in a hidden staging directory beside its final place and renamed into place only
when everything succeeded, so a failed run is never published (its attempt is kept under failed/ as
evidence; an interrupted one is removed) and an existing run directory is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import yaml

from gatehouse.project import project_dir
from gatehouse.runs.errors import EXIT_FAILED, EXIT_RUN_EXISTS, RunError
from gatehouse.runs.layout import FAILED_DIR, staging_dir
from gatehouse.runs.record import RECORD_VERSION, validate_record


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def copy_to_parquet(con, sql: str, destination: Path) -> None:
    """Write a query's rows to a zstd parquet file (same rows and order -> same bytes)."""
    target = str(destination).replace("'", "''")
    con.execute(f"copy ({sql}) to '{target}' (format parquet, compression zstd)")


def resolved_config_bytes(config: dict) -> bytes:
    text = yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True)
    return text.replace("\r\n", "\n").encode()


def run_id_for(config_bytes: bytes, stage_tag: str) -> str:
    return f"RUN_{stage_tag}_{hashlib.sha256(config_bytes + stage_tag.encode()).hexdigest()[:12]}"


def code_version() -> str:
    try:
        head = subprocess.run(["git", "-C", str(project_dir()), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "no_git_metadata"
    return head or "no_git_metadata"


def package_versions(*names: str) -> dict:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Run:
    """A run being built in `staging`, published to `final` by `publish()`."""
    run_id: str
    final: Path
    staging: Path
    config_bytes: bytes
    record: dict = field(default_factory=dict)

    @property
    def results(self) -> Path:
        return self.staging / "results"

    def artifact(self, logical_name: str, relative_path: str) -> None:
        path = self.staging / relative_path
        self.record.setdefault("artifacts", {})[logical_name] = relative_path
        self.record.setdefault("artifact_index", []).append(
            {"logical_name": logical_name, "relative_path": relative_path, "sha256": sha256_file(path),
             "bytes": path.stat().st_size})

    def record_dbt(self, summary: dict, **details) -> None:
        """The run record's dbt section: invocation id, every test's status, and what was selected."""
        from gatehouse.dbt_invoke import test_statuses

        self.record["dbt"] = {"invocation_id": summary["invocation_id"], **details, "tests": test_statuses(summary)}

    def log(self, event_type: str, **payload) -> None:
        line = {"ts_utc": utc_now(), "run_id": self.run_id, "event_type": event_type, "payload": payload}
        with open(self.staging / "logs" / "events.jsonl", "a") as handle:
            handle.write(json.dumps(line, sort_keys=True) + "\n")


DISK_FULL_MARKERS = ("No space left on device", "Disk quota exceeded")


def disk_full_message(text: str, where: Path) -> str | None:
    """A one-line disk-full error for `where` if `text` (an error or a tool's output) reports one, else None."""
    if not any(marker in text for marker in DISK_FULL_MARKERS):
        return None
    try:
        free = f"{shutil.disk_usage(where).free / 2**20:.0f} MiB free now"
    except OSError:
        free = "free space unknown"
    return f"disk full while writing under {Path(where).resolve()} ({free}); free some space and run again"


def require_runs_dir(runs_dir: Path) -> Path:
    """runs_dir as a Path; a named error (exit 2) when it exists but is not a directory."""
    runs_dir = Path(runs_dir)
    if runs_dir.exists() and not runs_dir.is_dir():
        raise RunError(f"--runs-dir {runs_dir}: not a directory (a file is in the way)")
    return runs_dir


def published_runs(runs_dir: Path) -> list[dict]:
    """run_record.json of every published (complete) run under runs_dir, sorted by run_id."""
    runs_dir = require_runs_dir(runs_dir)
    records = []
    for record_path in sorted(Path(runs_dir).glob("RUN_*/run_record.json")):
        with open(record_path) as handle:
            records.append(json.load(handle))
    return [record for record in records if record.get("stage_status") == "complete"]


@contextmanager
def new_run(runs_dir: Path, stage_tag: str, config: dict):
    """Yield a Run in a staging directory; publish it on success, remove it on any failure
    (BaseException: also on Ctrl-C). An unusable runs_dir (a file, not writable) is a named error."""
    runs_dir = require_runs_dir(runs_dir)
    config_bytes = resolved_config_bytes(config)
    run_id = run_id_for(config_bytes, stage_tag)
    final = runs_dir / run_id
    if final.exists():
        raise RunError(f"run directory {final} already exists; runs are never overwritten", EXIT_RUN_EXISTS)
    staging = staging_dir(runs_dir, run_id, os.getpid())
    run = Run(run_id, final, staging, config_bytes, record={
        "record_version": RECORD_VERSION, "project_id": "gatehouse", "run_id": run_id, "dependencies": [], "stage_tag": stage_tag, "stage_status": "started",
        "created_utc": utc_now(), "config_hash": hashlib.sha256(config_bytes).hexdigest(),
        "code_version": code_version(),
        "versions": package_versions("gatehouse", "dbt-core", "dbt-duckdb", "duckdb", "numpy", "pandas"),
    })
    try:
        staging.mkdir(parents=True, exist_ok=False)
    except OSError as error:  # a file on the path, no write permission, a read-only file system...
        raise RunError(f"--runs-dir {runs_dir}: cannot create a run directory there "
                       f"({error.strerror or error}: {error.filename or staging})") from None
    try:  # from here on, any exit but publishing removes the staging directory
        try:
            for sub in ("results", "logs", "dbt"):
                (staging / sub).mkdir()
            (staging / "config_resolved.yaml").write_bytes(config_bytes)
        except OSError as error:
            raise RunError(f"--runs-dir {runs_dir}: cannot write a run directory there "
                           f"({error.strerror or error}: {error.filename or staging})") from None
        run.log("start", stage_tag=stage_tag)
        yield run
        run.record["stage_status"] = "complete"
        validate_record(run.record)
        run.log("end", status="complete")
        with open(staging / "run_record.json", "w") as handle:
            json.dump(run.record, handle, indent=2, sort_keys=True)
            handle.write("\n")
        if final.exists():
            raise RunError(f"run directory {final} appeared while this run was being built", EXIT_RUN_EXISTS)
        try:
            staging.rename(final)
        except OSError as error:
            raise RunError(f"--runs-dir {runs_dir}: cannot publish {run_id} ({error.strerror or error})") from None
    except Exception as error:  # keep the evidence of a failed attempt, away from good runs
        full_disk = disk_full_message(str(error), runs_dir)  # else the cause hides in pages of dbt logging
        error = RunError(full_disk) if full_disk else error
        kept = keep_failed_attempt(run, runs_dir, error)
        where = f"is kept in {kept}" if kept else "could not be kept (the disk refused it)"
        raise RunError(f"{error}\nThe failed attempt (warehouse, dbt logs, stored gate failures) {where}",
                       getattr(error, "exit_code", EXIT_FAILED)) from error
    except BaseException:  # Ctrl-C, SIGTERM: nothing half-built is left behind
        shutil.rmtree(staging, ignore_errors=True)
        raise


def keep_failed_attempt(run: Run, runs_dir: Path, error: BaseException) -> Path | None:
    """Move a failed run's staging directory to runs_dir/failed/<run_id>-<n>/ (n = attempt number), with its
    run_record.json marked failed. Never a RUN_* directory at the top, so it is never taken as a dependency."""
    run.record.update({"stage_status": "failed", "error": str(error)})
    failed_dir = runs_dir / FAILED_DIR
    try:
        (run.staging / "run_record.json").write_text(json.dumps(run.record, indent=2, sort_keys=True) + "\n")
        failed_dir.mkdir(exist_ok=True)
        attempt = 1 + sum(1 for _ in failed_dir.glob(f"{run.run_id}-*"))
        kept = failed_dir / f"{run.run_id}-{attempt}"
        run.staging.rename(kept)
        return kept
    except OSError:
        shutil.rmtree(run.staging, ignore_errors=True)
        return None
