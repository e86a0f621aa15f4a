"""Run discipline (task card §4, P0.1 and P0.4): pinned pointers, promotion locks and pruning.

Layout under a runs directory (the run folders themselves are untouched by everything here except
``prune --apply``):

* ``pointers/{baseline_authority,current_candidate,last_good}.json``: which run each role points at,
  with the run's lineage tokens (run_id, manifest_fingerprint, parameter_hash, seeds), its phase,
  the time of pinning and the SHA-256 of its run_record.json (so a changed run is detected).
* ``locks/<run_id>.json``: the lock record of a promoted ``sites certify`` run (policy bundle hashes,
  code version, scorecard, certificate grade, reproducibility witness); never overwritten.
  ``locks/<run_id>.realism_scorecard.parquet`` is the promoted scorecard, ready to be the
  ``--last-good`` of the next certification.

Promotion re-runs a reproducibility witness: a second, independent ``sites run`` of the first
certification seed with the same inputs, whose ``site_locations.parquet`` must be byte-identical to
that seed exported from the certification run's warehouse.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from gatehouse.runs import EXIT_RUN_EXISTS, RunError, code_version, copy_to_parquet, sha256_file, utc_now
from gatehouse.sites import freeze, runner, sources

POINTER_NAMES = ("baseline_authority", "current_candidate", "last_good")
POINTERS_DIR, LOCKS_DIR = "pointers", "locks"
CERTIFY_PHASE = "SITES_1B_CERTIFY"
LOCK_VERSION = "gatehouse.sites.lock.v1"
SCORECARD_FILE = "results/realism_scorecard.parquet"
CERTIFICATE_FILE = "results/certificate.json"
RUN_ID_PATTERN = re.compile(r"RUN_[A-Za-z0-9]+_[0-9a-f]{12}")
STAGING_PATTERN = re.compile(r"\.staging-(?P<run_id>RUN_[A-Za-z0-9]+_[0-9a-f]{12})-(?P<pid>\d+)")

Witness = Callable[[sources.SitesInputs, Path], Path]
Precheck = Callable[[sources.SitesInputs], dict]


# ---------------------------------------------------------------------------------------------------
# Run records


def run_dir(runs_dir: Path, run_id: str) -> Path:
    """The folder of a run id; refuses anything that is not a plain RUN_<tag>_<12 hex> name."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise RunError(f"{run_id!r}: not a run id (expected RUN_<stage tag>_<12 hex digits>)")
    return Path(runs_dir) / run_id


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


def seeds_of(record: dict) -> list[int]:
    if "seeds" in record:
        return [int(seed) for seed in record["seeds"]]
    return [int(record["seed"])] if "seed" in record else []


# ---------------------------------------------------------------------------------------------------
# Pointers


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
        "seeds": seeds_of(record),
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


# ---------------------------------------------------------------------------------------------------
# Promotion


def export_seed_locations(database: Path, seed: int, destination: Path) -> Path:
    """One seed of a multi-seed warehouse's site_locations, exported exactly as `sites run` exports it."""
    if not Path(database).is_file():
        raise RunError(f"{database}: not found; the certification run's warehouse is needed for the witness")
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute("select count(*) from site_locations where seed = ?", [seed]).fetchone()[0]
        if rows == 0:
            raise RunError(f"{database}: table site_locations has no rows for seed {seed}")
        copy_to_parquet(con, f"select * exclude (seed) from site_locations where seed = {int(seed)} order by {runner.PK}",
                        destination)
    finally:
        con.close()
    return destination


def run_witness(inputs: sources.SitesInputs, workdir: Path) -> Path:
    """The reproducibility witness: an independent `sites run` into a scratch runs dir; its egress file."""
    return runner.run_sites(workdir / "runs", inputs) / runner.EGRESS_FILE


@dataclass
class Promotion:
    """What `promote` checked and wrote."""
    lock_path: Path
    lock: dict
    pointers: list[Path] = field(default_factory=list)


def lock_path(runs_dir: Path, run_id: str) -> Path:
    return Path(runs_dir) / LOCKS_DIR / f"{run_id}.json"


def promotable(runs_dir: Path, run_id: str) -> tuple[dict, dict]:
    """(run record, certificate) of a completed certify run that reached its target and is not locked."""
    record = complete_record(runs_dir, run_id)
    folder = run_dir(runs_dir, run_id)
    if phase_of(record) != CERTIFY_PHASE:
        raise RunError(f"{folder}: phase is {phase_of(record)}; only a `sites certify` run ({CERTIFY_PHASE}) "
                       "can be promoted")
    certificate_path = folder / CERTIFICATE_FILE
    if not certificate_path.is_file():
        raise RunError(f"{certificate_path}: not found; nothing certified to promote")
    certificate = json.loads(certificate_path.read_text())
    if not certificate.get("reaches_target"):
        raise RunError(f"{certificate_path}: certified grade {certificate.get('certified_grade')} does not reach "
                       f"the target {certificate.get('target_grade')}; a run below its target is not promoted")
    for existing in (lock_path(runs_dir, run_id), lock_path(runs_dir, run_id).with_suffix(".realism_scorecard.parquet")):
        if existing.exists():
            raise RunError(f"{existing}: already exists; lock records are never overwritten", EXIT_RUN_EXISTS)
    return record, certificate


def check_same_inputs(record: dict, checked: dict, folder: Path) -> None:
    """The witness must use the certified inputs: equal parameter_hash and manifest_fingerprint."""
    for key in ("parameter_hash", "manifest_fingerprint"):
        if checked[key] != record.get(key):
            raise RunError(f"{folder}/run_record.json: {key} {record.get(key)} differs from the one the given inputs "
                           f"give now ({checked[key]}); pass the certification's --outlet-catalogue/--catalogue-seed/"
                           "--policy, and promote from the same code version")


def witness_check(database: Path, seed: int, inputs: sources.SitesInputs, witness: Witness) -> dict:
    """Export the certified seed, build the witness, and require byte-identical site_locations."""
    with tempfile.TemporaryDirectory(prefix="gatehouse-witness-") as scratch:
        scratch = Path(scratch)
        certified = export_seed_locations(database, seed, scratch / "certified_site_locations.parquet")
        witnessed = witness(inputs, scratch)
        certified_sha, witness_sha = sha256_file(certified), sha256_file(witnessed)
        witness_record = witnessed.parent / "run_record.json"
        witness_run = json.loads(witness_record.read_text()).get("run_id") if witness_record.is_file() else None
    if certified_sha != witness_sha:
        raise RunError(f"reproducibility witness failed: seed {seed} site_locations of {database} has sha256 "
                       f"{certified_sha}, the witness run has {witness_sha}; not promoted")
    return {"seed": seed, "certified_site_locations_sha256": certified_sha,
            "witness_site_locations_sha256": witness_sha, "identical": True, "witness_run_id": witness_run}


def freeze_guard_verdict(database: Path) -> dict | None:
    """The certification build's realism_1a_freeze_guard verdict, if the table exists."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        tables = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
        if "realism_1a_freeze_guard" not in tables:
            return None
        status, reasons = con.execute("select min(guard_status), min(guard_reasons) from realism_1a_freeze_guard").fetchone()
    finally:
        con.close()
    return {"status": status, "reasons": reasons}


def lock_document(record: dict, certificate: dict, checked: dict, witness: dict, folder: Path) -> dict:
    sealed = checked["sealed"]
    scorecard = pd.read_parquet(folder / SCORECARD_FILE)
    return {
        "lock_version": LOCK_VERSION,
        "run_id": record["run_id"],
        "phase": phase_of(record),
        "seeds": seeds_of(record),
        "parameter_hash": record["parameter_hash"],
        "manifest_fingerprint": record["manifest_fingerprint"],
        "code_version": {"certify_run": record.get("code_version"), "promote": code_version()},
        "certificate": {"certified_grade": certificate["certified_grade"], "target_grade": certificate["target_grade"],
                        "reaches_target": certificate["reaches_target"],
                        "sha256": sha256_file(folder / CERTIFICATE_FILE)},
        "policy_bundle": [{key: row[key] for key in ("asset_id", "role", "name", "version_tag", "sha256_hex")}
                          for row in sealed.to_dict("records")],
        "freeze_guard": {"authority": freeze.AUTHORITY_PATH.name, "authority_sha256": sha256_file(freeze.AUTHORITY_PATH),
                         "certification_build": freeze_guard_verdict(folder / "warehouse.duckdb")},
        "scorecard": json.loads(scorecard.to_json(orient="records")),
        "scorecard_file": f"{record['run_id']}.realism_scorecard.parquet",
        "scorecard_sha256": sha256_file(folder / SCORECARD_FILE),
        "witness": witness,
        "promoted_utc": utc_now(),
    }


def promote(runs_dir: Path, run_id: str, catalogue: str | None = None, policy_dir: str | None = None,
            catalogue_seed: int = 42, witness: Witness = run_witness,
            precheck: Precheck = runner.precheck) -> Promotion:
    """Promote a certify run: witness, lock record, scorecard copy, current_candidate and last_good."""
    runs_dir = Path(runs_dir)
    record, certificate = promotable(runs_dir, run_id)
    folder = run_dir(runs_dir, run_id)
    seed = seeds_of(record)[0]
    inputs = runner.resolve_inputs(seed, catalogue, None, policy_dir, None, catalogue_seed)
    checked = precheck(inputs)
    check_same_inputs(record, checked, folder)
    witnessed = witness_check(folder / "warehouse.duckdb", seed, inputs, witness)
    lock = lock_document(record, certificate, checked, witnessed, folder)

    path = lock_path(runs_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(folder / SCORECARD_FILE, path.parent / lock["scorecard_file"])
    with open(path, "x") as handle:  # "x": an existing lock is never overwritten, even by a race
        handle.write(json.dumps(lock, indent=2, sort_keys=True) + "\n")
    pointers = [write_pointer(runs_dir, name, pointer_document(name, runs_dir, record))
                for name in ("current_candidate", "last_good")]
    return Promotion(path, lock, pointers)


# ---------------------------------------------------------------------------------------------------
# Pruning


@dataclass
class PrunePlan:
    """Run folders to remove or keep (each with a reason), and staging folders by liveness."""
    remove: list[tuple[Path, str]] = field(default_factory=list)
    keep: list[tuple[Path, str]] = field(default_factory=list)
    stale_staging: list[Path] = field(default_factory=list)
    live_staging: list[Path] = field(default_factory=list)


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


def _record_or_none(folder: Path) -> dict | None:
    path = folder / "run_record.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("stage_status") == "complete" else None


def prune_plan(runs_dir: Path) -> PrunePlan:
    """Superseded = complete, unprotected, and created before the newest protected run of its phase."""
    runs_dir = Path(runs_dir)
    plan = PrunePlan()
    protected = protected_runs(runs_dir)
    folders = sorted(p for p in runs_dir.glob("RUN_*") if p.is_dir() and not p.is_symlink())
    records = {folder.name: _record_or_none(folder) for folder in folders}
    newest: dict[str, tuple[str, str]] = {}  # phase -> (created_utc, run_id) of its newest protected run
    for run_id in protected:
        record = records.get(run_id)
        if record:
            key = (record.get("created_utc") or "", run_id)
            newest[phase_of(record)] = max(newest.get(phase_of(record), key), key)
    for folder in folders:
        record = records[folder.name]
        if folder.name in protected:
            plan.keep.append((folder, "protected: " + ", ".join(protected[folder.name])))
        elif record is None:
            plan.keep.append((folder, "no complete run_record.json: not touched"))
        elif phase_of(record) not in newest:
            plan.keep.append((folder, f"no pinned or locked run of phase {phase_of(record)}"))
        elif (record.get("created_utc") or "") < newest[phase_of(record)][0]:
            plan.remove.append((folder, f"superseded by {newest[phase_of(record)][1]} (phase {phase_of(record)})"))
        else:
            plan.keep.append((folder, f"not older than {newest[phase_of(record)][1]} (live candidate)"))
    for staging in sorted(runs_dir.glob(".staging-*")):
        match = STAGING_PATTERN.fullmatch(staging.name)
        alive = bool(match) and _process_alive(int(match["pid"]))
        (plan.live_staging if alive else plan.stale_staging).append(staging)
    return plan


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune(runs_dir: Path, apply: bool = False) -> PrunePlan:
    """Dry run by default; with ``apply`` remove the superseded runs and stale staging folders."""
    plan = prune_plan(runs_dir)
    if apply:
        protected = protected_runs(runs_dir)
        for folder, _ in plan.remove:
            if folder.name in protected:  # re-checked just before deleting
                raise RunError(f"{folder}: became protected while pruning; stopped")
            shutil.rmtree(folder)
        for staging in plan.stale_staging:
            shutil.rmtree(staging)
    return plan


def describe_plan(plan: PrunePlan, applied: bool) -> str:
    verb = "removed" if applied else "would remove"
    lines = [f"{verb}: {folder}  ({reason})" for folder, reason in plan.remove]
    lines += [f"{verb} stale staging: {folder}" for folder in plan.stale_staging]
    lines += [f"kept: {folder}  ({reason})" for folder, reason in plan.keep]
    lines += [f"kept live staging: {folder}" for folder in plan.live_staging]
    if not applied and (plan.remove or plan.stale_staging):
        lines.append("dry run: nothing removed (pass --apply to remove)")
    return "\n".join(lines) if lines else "nothing to prune"
