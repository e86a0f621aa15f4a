"""Promotion of a `sites certify` run (task card §4, P0.4): witness, lock record, pointers.

``locks/<run_id>.json`` is the lock record of a promoted run (policy bundle hashes, code version,
scorecard, certificate grade, reproducibility witness); never overwritten.
``locks/<run_id>.realism_scorecard.parquet`` is the promoted scorecard, ready to be the
``--last-good`` of the next certification. Pointers, locks as protection and pruning are generic and
live in ``gatehouse.runs``.

Promotion re-runs a reproducibility witness: a second, independent ``sites run`` of the first
certification seed with the same inputs, whose ``site_locations.parquet`` must be byte-identical to
that seed exported from the certification run's warehouse.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from gatehouse.runs import EXIT_RUN_EXISTS, RunError, code_version, copy_to_parquet, sha256_file, utc_now
from gatehouse.runs.layout import run_dir
from gatehouse.runs.pointers import complete_record, lock_path, phase_of, pointer_document, write_pointer
from gatehouse.sites.inputs import freeze
from gatehouse.sites.commands import precheck as inputs_check, publish, runner
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.outputs.records import json_records

CERTIFY_PHASE = "SITES_1B_CERTIFY"
LOCK_VERSION = "gatehouse.sites.lock.v1"
SCORECARD_FILE = "results/realism_scorecard.parquet"
CERTIFICATE_FILE = "results/certificate.json"

Witness = Callable[[sources.SitesInputs, Path], Path]
Precheck = Callable[[sources.SitesInputs], dict]


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
        copy_to_parquet(con, f"select * exclude (seed) from site_locations where seed = {int(seed)} order by {publish.PK}",
                        destination)
    finally:
        con.close()
    return destination


def run_witness(inputs: sources.SitesInputs, workdir: Path) -> Path:
    """The reproducibility witness: an independent `sites run` into a scratch runs dir; its egress file."""
    return runner.run_sites(workdir / "runs", inputs) / publish.EGRESS_FILE


@dataclass
class Promotion:
    """What `promote` checked and wrote."""
    lock_path: Path
    lock: dict
    pointers: list[Path] = field(default_factory=list)


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
        "seeds": record["seeds"],
        "parameter_hash": record["parameter_hash"],
        "manifest_fingerprint": record["manifest_fingerprint"],
        "code_version": {"certify_run": record.get("code_version"), "promote": code_version()},
        "certificate": {"certified_grade": certificate["certified_grade"], "target_grade": certificate["target_grade"],
                        "reaches_target": certificate["reaches_target"],
                        "sha256": sha256_file(folder / CERTIFICATE_FILE)},
        "policy_bundle": [{key: row[key] for key in ("asset_id", "role", "name", "version_tag", "sha256_hex")}
                          for row in sealed.to_dict("records")],
        "freeze_guard": {"authority": freeze.frozen_authority_path().name,
                         "authority_sha256": sha256_file(freeze.frozen_authority_path()),
                         "certification_build": freeze_guard_verdict(folder / "warehouse.duckdb")},
        "scorecard": json_records(scorecard),
        "scorecard_file": f"{record['run_id']}.realism_scorecard.parquet",
        "scorecard_sha256": sha256_file(folder / SCORECARD_FILE),
        "witness": witness,
        "promoted_utc": utc_now(),
    }


def promote(runs_dir: Path, run_id: str, catalogue: str | None = None, policy_dir: str | None = None,
            catalogue_seed: int = 42, witness: Witness = run_witness,
            precheck: Precheck = inputs_check.precheck) -> Promotion:
    """Promote a certify run: witness, lock record, scorecard copy, current_candidate and last_good."""
    runs_dir = Path(runs_dir)
    record, certificate = promotable(runs_dir, run_id)
    folder = run_dir(runs_dir, run_id)
    seed = record["seeds"][0]
    inputs = inputs_check.resolve_inputs(seed, catalogue, None, policy_dir, None, catalogue_seed)
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
