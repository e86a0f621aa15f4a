"""Pinned pointers and promotion locks of a runs directory (task card §4, P0.1 and P0.4).

* ``pointers/{baseline_authority,current_candidate,last_good}.json``: which run each role points at,
  with the run's lineage tokens (run_id, manifest_fingerprint, parameter_hash, seeds), its phase,
  the time of pinning and the SHA-256 of its run_record.json (so a changed run is detected).
* ``locks/<run_id>.json``: the lock record of a promoted run; never overwritten. A domain writes it
  (see ``gatehouse.sites.commands.discipline``); here it only protects its run from pruning.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gatehouse.runs.core import sha256_file, utc_now
from gatehouse.runs.errors import EXIT_RUN_EXISTS, RunError
from gatehouse.runs.layout import LOCKS_DIR, POINTERS_DIR, run_dir

POINTER_NAMES = ("baseline_authority", "current_candidate", "last_good")


def complete_record(runs_dir: Path, run_id: str) -> dict:
    """run_record.json of a complete run; RunError names the file and the problem otherwise."""
    path = run_dir(runs_dir, run_id) / "run_record.json"
    if not path.is_file():
        raise RunError(f"{path}: not found; only a complete, published run can be pinned or promoted")
    record = json.loads(path.read_text())
    if record.get("stage_status") != "complete":
        raise RunError(f"{path}: stage_status is {record.get('stage_status')!r}, not 'complete'")
    if record.get("run_id") != run_id:
        raise RunError(f"{path}: run_id is {record.get('run_id')!r}, expected {run_id!r}")
    return record


def phase_of(record: dict) -> str:
    return record.get("phase_id") or record.get("stage_tag") or "unknown"


def pointer_path(runs_dir: Path, name: str) -> Path:
    if name not in POINTER_NAMES:
        raise RunError(f"pointer {name!r}: expected one of {list(POINTER_NAMES)}")
    return Path(runs_dir) / POINTERS_DIR / f"{name}.json"


def pointer_document(name: str, runs_dir: Path, record: dict) -> dict:
    """A pointer to a complete run, with the lineage tokens a baseline comparison needs."""
    path = run_dir(runs_dir, record["run_id"]) / "run_record.json"
    for key in ("manifest_fingerprint", "parameter_hash"):
        if not record.get(key):
            raise RunError(f"{path}: has no {key}; a pointer pins lineage tokens, so only sites run/certify "
                           "runs can be pinned")
    return {
        "pointer": name,
        "run_id": record["run_id"],
        "phase": phase_of(record),
        "stage_tag": record.get("stage_tag"),
        "manifest_fingerprint": record["manifest_fingerprint"],
        "parameter_hash": record["parameter_hash"],
        "seeds": [int(seed) for seed in record.get("seeds", [])],
        "run_created_utc": record.get("created_utc"),
        "pinned_utc": utc_now(),
        "run_record_sha256": sha256_file(path),
    }


def read_pointer(runs_dir: Path, name: str) -> dict | None:
    path = pointer_path(runs_dir, name)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise RunError(f"{path}: not valid JSON ({exc})") from exc


def write_pointer(runs_dir: Path, name: str, document: dict) -> Path:
    """Replace a pointer atomically (write a temporary file, then rename over the old one)."""
    path = pointer_path(runs_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp-{os.getpid()}")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)
    return path


def pin_baseline(runs_dir: Path, run_id: str, replace: bool = False) -> Path:
    """Pin the baseline authority; re-pinning a different run needs ``replace`` (same run: no-op)."""
    record = complete_record(runs_dir, run_id)
    existing = read_pointer(runs_dir, "baseline_authority")
    path = pointer_path(runs_dir, "baseline_authority")
    if existing and existing.get("run_id") == run_id:
        return path
    if existing and not replace:
        raise RunError(f"{path}: the baseline authority is pinned to {existing.get('run_id')}; refusing to re-pin "
                       f"it to {run_id} (pass --replace to replace the baseline authority)", EXIT_RUN_EXISTS)
    return write_pointer(runs_dir, "baseline_authority", pointer_document("baseline_authority", runs_dir, record))


def pointer_status(runs_dir: Path) -> dict:
    """Every pointer (None if unset) with a check: ok, run missing, or run_record changed since pinning."""
    status = {}
    for name in POINTER_NAMES:
        pointer = read_pointer(runs_dir, name)
        if pointer is not None:
            record_path = Path(runs_dir) / pointer["run_id"] / "run_record.json"
            if not record_path.is_file():
                check = "run missing"
            elif sha256_file(record_path) != pointer.get("run_record_sha256"):
                check = "run_record changed since pinning"
            else:
                check = "ok"
            pointer = {**pointer, "check": check}
        status[name] = pointer
    return status


def lock_path(runs_dir: Path, run_id: str) -> Path:
    return Path(runs_dir) / LOCKS_DIR / f"{run_id}.json"


def protected_runs(runs_dir: Path) -> dict[str, list[str]]:
    """run id -> what protects it (pointer names, 'lock'); these are never pruned."""
    protected: dict[str, list[str]] = {}
    for name in POINTER_NAMES:
        pointer = read_pointer(runs_dir, name)
        if pointer:
            protected.setdefault(pointer["run_id"], []).append(name)
    for lock in sorted((Path(runs_dir) / LOCKS_DIR).glob("RUN_*.json")):
        protected.setdefault(lock.name[: -len(".json")], []).append("lock")
    return protected
