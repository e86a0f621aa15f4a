"""Run discipline: baseline pinning, pointers, promotion (lock record, reproducibility witness) and
pruning, on small hand-built run directories. The witness and the precheck are injected, so no dbt
build runs here; the witness's export is the real one (DuckDB -> zstd parquet)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from gatehouse import cli
from gatehouse.runs import EXIT_FAILED, EXIT_RUN_EXISTS, RunError, copy_to_parquet, sha256_file
from gatehouse.runs import pointers, prune
from gatehouse.sites.commands import discipline, publish
from gatehouse.sites.commands.precheck import resolve_inputs

MF, PH = "ab" * 32, "cd" * 32


def run_id(tag: str, number: int) -> str:
    return f"RUN_{tag}_{number:012x}"


def fake_run(runs_dir: Path, rid: str, phase: str = "SITES_1B", created: str = "2026-01-01T00:00:00Z",
             status: str = "complete", **extra) -> Path:
    folder = runs_dir / rid
    folder.mkdir(parents=True)
    record = {"run_id": rid, "stage_tag": rid.split("_")[1], "stage_status": status, "phase_id": phase,
              "created_utc": created, "manifest_fingerprint": MF, "parameter_hash": PH, "seeds": [42],
              "code_version": "c0ffee", **extra}
    (folder / "run_record.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return folder


def pointer(runs_dir: Path, name: str) -> dict:
    return json.loads((runs_dir / "pointers" / f"{name}.json").read_text())


# ----------------------------------------------------------------------------- pin and pointers


def test_pin_writes_baseline_pointer_with_lineage_tokens(tmp_path):
    rid = run_id("S1B", 1)
    fake_run(tmp_path, rid)
    path = pointers.pin_baseline(tmp_path, rid)
    assert path == tmp_path / "pointers" / "baseline_authority.json"
    document = pointer(tmp_path, "baseline_authority")
    assert {key: document[key] for key in ("pointer", "run_id", "phase", "manifest_fingerprint", "parameter_hash",
                                           "seeds", "run_created_utc")} == {
        "pointer": "baseline_authority", "run_id": rid, "phase": "SITES_1B", "manifest_fingerprint": MF,
        "parameter_hash": PH, "seeds": [42], "run_created_utc": "2026-01-01T00:00:00Z"}
    assert document["run_record_sha256"] == sha256_file(tmp_path / rid / "run_record.json")
    assert document["pinned_utc"].endswith("Z")


def test_pin_same_run_again_is_a_no_op(tmp_path):
    rid = run_id("S1B", 1)
    fake_run(tmp_path, rid)
    pointers.pin_baseline(tmp_path, rid)
    before = (tmp_path / "pointers" / "baseline_authority.json").read_bytes()
    pointers.pin_baseline(tmp_path, rid)
    assert (tmp_path / "pointers" / "baseline_authority.json").read_bytes() == before


def test_repin_a_different_run_needs_replace(tmp_path):
    first, second = run_id("S1B", 1), run_id("S1B", 2)
    fake_run(tmp_path, first)
    fake_run(tmp_path, second)
    pointers.pin_baseline(tmp_path, first)
    with pytest.raises(RunError, match="pass --replace") as error:
        pointers.pin_baseline(tmp_path, second)
    assert error.value.exit_code == EXIT_RUN_EXISTS
    assert first in str(error.value) and second in str(error.value)
    assert pointer(tmp_path, "baseline_authority")["run_id"] == first
    pointers.pin_baseline(tmp_path, second, replace=True)
    assert pointer(tmp_path, "baseline_authority")["run_id"] == second


@pytest.mark.parametrize("setup, message", [
    (lambda d, rid: None, "run_record.json: not found"),
    (lambda d, rid: fake_run(d, rid, status="started"), "stage_status is 'started', not 'complete'"),
    (lambda d, rid: fake_run(d, rid, manifest_fingerprint=None), "has no manifest_fingerprint"),
])
def test_pin_refuses_incomplete_or_tokenless_runs(tmp_path, setup, message):
    rid = run_id("S1B", 7)
    setup(tmp_path, rid)
    with pytest.raises(RunError, match=message):
        pointers.pin_baseline(tmp_path, rid)
    assert not (tmp_path / "pointers" / "baseline_authority.json").exists()


@pytest.mark.parametrize("bad", ["../RUN_S1B_000000000001", "RUN_S1B_1", "runs/RUN_S1B_000000000001", ""])
def test_pin_refuses_names_that_are_not_run_ids(tmp_path, bad):
    with pytest.raises(RunError, match="not a run id"):
        pointers.pin_baseline(tmp_path, bad)


def test_pointer_status_detects_missing_and_changed_runs(tmp_path):
    first, second = run_id("S1B", 1), run_id("S1BCE", 2)
    fake_run(tmp_path, first)
    fake_run(tmp_path, second, phase="SITES_1B_CERTIFY", seeds=[42, 7])
    pointers.pin_baseline(tmp_path, first)
    pointers.write_pointer(tmp_path, "last_good",
                             pointers.pointer_document("last_good", tmp_path, pointers.complete_record(tmp_path, second)))
    status = pointers.pointer_status(tmp_path)
    assert status["current_candidate"] is None
    assert status["baseline_authority"]["check"] == "ok"
    assert status["last_good"]["seeds"] == [42, 7]
    (tmp_path / first / "run_record.json").write_text("{}")
    (tmp_path / second / "run_record.json").unlink()
    status = pointers.pointer_status(tmp_path)
    assert status["baseline_authority"]["check"] == "run_record changed since pinning"
    assert status["last_good"]["check"] == "run missing"


def test_cli_pin_refusal_and_pointers(tmp_path, capsys):
    first, second = run_id("S1B", 1), run_id("S1B", 2)
    fake_run(tmp_path, first)
    fake_run(tmp_path, second)
    assert cli.main(["sites", "baseline", "pin", first, "--runs-dir", str(tmp_path)]) == 0
    assert cli.main(["sites", "baseline", "pin", second, "--runs-dir", str(tmp_path)]) == EXIT_RUN_EXISTS
    assert "--replace" in capsys.readouterr().err
    assert cli.main(["sites", "baseline", "pointers", "--runs-dir", str(tmp_path)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["baseline_authority"]["run_id"] == first and shown["last_good"] is None


# ----------------------------------------------------------------------------- promote

SITES = pd.DataFrame({
    "merchant_id": [1, 1, 2, 3, 3, 3],
    "legal_country_iso": ["FR", "FR", "DE", "BR", "BR", "AR"],
    "site_order": [1, 2, 1, 1, 2, 1],
    "lon_deg": [2.1, 2.2, 13.4, -47.9, -43.2, -58.4],
    "lat_deg": [48.8, 48.9, 52.5, -15.8, -22.9, -34.6],
})


def warehouse(path: Path, seeds: list[int], shuffle: bool = False) -> Path:
    """A DuckDB file with site_locations (seed first, as the chain builds it); seed s shifts lon by s/1000."""
    frames = [SITES.assign(lon_deg=SITES["lon_deg"] + seed / 1000).assign(seed=seed) for seed in seeds]
    table = pd.concat(frames, ignore_index=True)
    table = table.sample(frac=1.0, random_state=3) if shuffle else table
    table = table[["seed", "merchant_id", "legal_country_iso", "site_order", "lon_deg", "lat_deg"]]
    con = duckdb.connect(str(path))
    con.register("frame", table)
    con.execute("create table site_locations as select * from frame")
    con.close()
    return path


def fake_certify_run(runs_dir: Path, rid: str = run_id("S1BCE", 0xC1), reaches: bool = True) -> Path:
    folder = fake_run(runs_dir, rid, phase="SITES_1B_CERTIFY", seeds=[42, 7, 101, 202],
                      created="2026-01-02T00:00:00Z")
    (folder / "results").mkdir()
    certificate = {"certified_grade": "B+" if reaches else "B", "target_grade": "B+", "reaches_target": reaches}
    (folder / "results" / "certificate.json").write_text(json.dumps(certificate))
    scorecard = pd.DataFrame({"seed": [7, 42], "country_gini": [0.41, 0.42], "top1_share": [0.06, 0.061]})
    scorecard.to_parquet(folder / "results" / "realism_scorecard.parquet")
    warehouse(folder / "warehouse.duckdb", [42, 7, 101, 202])
    return folder


def fake_precheck(parameter_hash: str = PH):
    sealed = pd.DataFrame([
        {"asset_id": "policy.jitter", "role": "parameter", "name": "jitter.yaml", "path": "/p/jitter.yaml",
         "version_tag": "jitter.v2", "sha256_hex": "11" * 32, "bytes": 10},
        {"asset_id": "outlet_policy", "role": "artefact", "name": "outlets_1a.yaml", "path": "/p/outlets_1a.yaml",
         "version_tag": "outlets_1a.v1", "sha256_hex": "22" * 32, "bytes": 20},
    ])
    return lambda inputs: {"sealed": sealed, "parameter_hash": parameter_hash, "manifest_fingerprint": MF,
                           "commit": "c0ffee"}


class Witness:
    """Stands in for `sites run --seed N`: a single-seed warehouse (rows in another order) exported as
    runner.run_sites exports it, into <workdir>/runs/<run id>/site_locations.parquet."""

    def __init__(self, lon_shift: float = 0.0):
        self.lon_shift, self.calls = lon_shift, []

    def __call__(self, inputs, workdir: Path) -> Path:
        self.calls.append(inputs)
        folder = workdir / "runs" / run_id("S1B", 0x717)
        folder.mkdir(parents=True)
        database = warehouse(folder / "warehouse.duckdb", [inputs.seed], shuffle=True)
        con = duckdb.connect(str(database))
        con.execute(f"update site_locations set lon_deg = lon_deg + {self.lon_shift}")
        copy_to_parquet(con, f"select * exclude (seed) from site_locations order by {publish.PK}",
                        folder / publish.EGRESS_FILE)
        con.close()
        (folder / "run_record.json").write_text(json.dumps({"run_id": folder.name}))
        return folder / publish.EGRESS_FILE


def test_promote_writes_lock_scorecard_and_pointers(tmp_path):
    folder = fake_certify_run(tmp_path)
    witness = Witness()
    promotion = discipline.promote(tmp_path, folder.name, witness=witness, precheck=fake_precheck())

    assert [inputs.seeds for inputs in witness.calls] == [(42,)]  # the first certification seed
    assert promotion.lock_path == tmp_path / "locks" / f"{folder.name}.json"
    lock = json.loads(promotion.lock_path.read_text())
    assert lock["run_id"] == folder.name and lock["seeds"] == [42, 7, 101, 202]
    assert (lock["parameter_hash"], lock["manifest_fingerprint"]) == (PH, MF)
    assert lock["certificate"]["certified_grade"] == "B+"
    assert lock["certificate"]["sha256"] == sha256_file(folder / "results" / "certificate.json")
    assert lock["code_version"]["certify_run"] == "c0ffee"
    assert [row["name"] for row in lock["policy_bundle"]] == ["jitter.yaml", "outlets_1a.yaml"]
    assert lock["policy_bundle"][0]["sha256_hex"] == "11" * 32
    assert lock["scorecard"] == [{"seed": 7, "country_gini": 0.41, "top1_share": 0.06},
                                 {"seed": 42, "country_gini": 0.42, "top1_share": 0.061}]
    assert lock["freeze_guard"]["authority"] == "outlets_1a_authority.json"
    assert lock["freeze_guard"]["certification_build"] is None  # this fake warehouse has no guard table
    witnessed = lock["witness"]
    assert witnessed["seed"] == 42 and witnessed["identical"] is True
    assert witnessed["certified_site_locations_sha256"] == witnessed["witness_site_locations_sha256"]
    assert witnessed["witness_run_id"] == run_id("S1B", 0x717)

    copied = tmp_path / "locks" / f"{folder.name}.realism_scorecard.parquet"
    assert sha256_file(copied) == sha256_file(folder / "results" / "realism_scorecard.parquet") == lock["scorecard_sha256"]
    for name in ("current_candidate", "last_good"):
        assert pointer(tmp_path, name)["run_id"] == folder.name
    assert not (tmp_path / "pointers" / "baseline_authority.json").exists()


def test_certified_seed_export_matches_a_single_seed_export_byte_for_byte(tmp_path):
    multi = discipline.export_seed_locations(warehouse(tmp_path / "multi.duckdb", [7, 42, 101]), 42, tmp_path / "a.parquet")
    single = Witness()(resolve_inputs(42), tmp_path)
    assert sha256_file(multi) == sha256_file(single)
    assert pd.read_parquet(multi).columns.tolist() == SITES.columns.tolist()


def test_promote_refuses_when_the_witness_differs(tmp_path):
    folder = fake_certify_run(tmp_path)
    with pytest.raises(RunError, match="reproducibility witness failed: seed 42") as error:
        discipline.promote(tmp_path, folder.name, witness=Witness(lon_shift=1e-9), precheck=fake_precheck())
    assert error.value.exit_code == EXIT_FAILED
    assert not (tmp_path / "locks").exists()
    assert not (tmp_path / "pointers").exists()


def test_promote_refuses_other_inputs_before_running_the_witness(tmp_path):
    folder = fake_certify_run(tmp_path)
    witness = Witness()
    with pytest.raises(RunError, match=f"parameter_hash {PH} differs"):
        discipline.promote(tmp_path, folder.name, witness=witness, precheck=fake_precheck("ee" * 32))
    assert witness.calls == []
    assert not (tmp_path / "locks").exists()


def test_promote_never_overwrites_a_lock(tmp_path):
    folder = fake_certify_run(tmp_path)
    discipline.promote(tmp_path, folder.name, witness=Witness(), precheck=fake_precheck())
    before = (tmp_path / "locks" / f"{folder.name}.json").read_bytes()
    with pytest.raises(RunError, match="never overwritten") as error:
        discipline.promote(tmp_path, folder.name, witness=Witness(), precheck=fake_precheck())
    assert error.value.exit_code == EXIT_RUN_EXISTS
    assert (tmp_path / "locks" / f"{folder.name}.json").read_bytes() == before


def test_promote_refuses_a_run_below_target_or_not_a_certification(tmp_path):
    below = fake_certify_run(tmp_path, reaches=False)
    with pytest.raises(RunError, match="does not reach the target B\\+"):
        discipline.promote(tmp_path, below.name, witness=Witness(), precheck=fake_precheck())
    single = fake_run(tmp_path, run_id("S1B", 3))
    with pytest.raises(RunError, match="only a `sites certify` run"):
        discipline.promote(tmp_path, single.name, witness=Witness(), precheck=fake_precheck())
    assert not (tmp_path / "locks").exists()


# ----------------------------------------------------------------------------- prune


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def runs_tree(tmp_path):
    """Runs of three phases, a pinned baseline, a promoted (locked) certification and staging folders.

    SITES_1B:          old1 (t1), old2 (t2), base (t3, baseline_authority), newer (t4)
    SITES_1B_CERTIFY:  cert_old (t2), cert_locked (t5, lock + last_good)
    SITES_1B_SCORE:    score (t1), no pinned run of its phase
    """
    names = {"old1": run_id("S1B", 1), "old2": run_id("S1B", 2), "base": run_id("S1B", 3), "newer": run_id("S1B", 4),
             "cert_old": run_id("S1BCE", 5), "cert_locked": run_id("S1BCE", 6), "score": run_id("S1BSC", 7),
             "incomplete": run_id("S1B", 8)}
    times = {"old1": 1, "old2": 2, "base": 3, "newer": 4, "cert_old": 2, "cert_locked": 5, "score": 1, "incomplete": 0}
    phases = {"cert_old": "SITES_1B_CERTIFY", "cert_locked": "SITES_1B_CERTIFY", "score": "SITES_1B_SCORE"}
    for key, rid in names.items():
        fake_run(tmp_path, rid, phase=phases.get(key, "SITES_1B"), created=f"2026-01-0{times[key] + 1}T00:00:00Z",
                 status="started" if key == "incomplete" else "complete")
    pointers.pin_baseline(tmp_path, names["base"])
    certified = pointers.complete_record(tmp_path, names["cert_locked"])
    pointers.write_pointer(tmp_path, "last_good", pointers.pointer_document("last_good", tmp_path, certified))
    (tmp_path / "locks").mkdir()
    (tmp_path / "locks" / f"{names['cert_locked']}.json").write_text("{}")
    (tmp_path / f".staging-{run_id('S1B', 9)}-{dead_pid()}" / "results").mkdir(parents=True)
    (tmp_path / f".staging-{run_id('S1B', 10)}-{os.getpid()}").mkdir()
    return tmp_path, names


def test_prune_plan_removes_only_superseded_unprotected_runs(runs_tree):
    runs_dir, names = runs_tree
    plan = prune.prune_plan(runs_dir)
    assert sorted(folder.name for folder, _ in plan.remove) == sorted([names["old1"], names["old2"], names["cert_old"]])
    kept = {folder.name: reason for folder, reason in plan.keep}
    assert kept[names["base"]] == "protected: baseline_authority"
    assert kept[names["cert_locked"]] == "protected: last_good, lock"
    assert kept[names["newer"]].endswith("(live candidate)")
    assert kept[names["score"]] == "no pinned or locked run of phase SITES_1B_SCORE"
    assert kept[names["incomplete"]] == "no complete run_record.json: not touched"
    assert [path.name for path in plan.stale_staging] == [p.name for p in runs_dir.glob(f".staging-{run_id('S1B', 9)}-*")]
    assert len(plan.live_staging) == 1


def test_prune_is_a_dry_run_by_default(runs_tree):
    runs_dir, names = runs_tree
    before = sorted(path.name for path in runs_dir.iterdir())
    text = prune.describe_plan(prune.prune(runs_dir), applied=False)
    assert sorted(path.name for path in runs_dir.iterdir()) == before
    assert f"would remove: {runs_dir / names['old1']}" in text
    assert text.endswith("dry run: nothing removed (pass --apply to remove)")


def test_prune_apply_removes_superseded_and_stale_staging_only(runs_tree):
    runs_dir, names = runs_tree
    prune.prune(runs_dir, apply=True)
    left = sorted(path.name for path in runs_dir.iterdir())
    assert left == sorted([names["base"], names["newer"], names["cert_locked"], names["score"], names["incomplete"],
                           f".staging-{run_id('S1B', 10)}-{os.getpid()}", "locks", "pointers"])
    assert prune.prune_plan(runs_dir).remove == []  # idempotent


def test_pinned_runs_are_never_pruned_even_when_older_than_another_pin(runs_tree):
    runs_dir, names = runs_tree
    newer = pointers.complete_record(runs_dir, names["newer"])
    pointers.write_pointer(runs_dir, "current_candidate",
                             pointers.pointer_document("current_candidate", runs_dir, newer))
    removed = {folder.name for folder, _ in prune.prune_plan(runs_dir).remove}
    assert names["base"] not in removed and names["newer"] not in removed
    assert removed == {names["old1"], names["old2"], names["cert_old"]}


def test_cli_runs_prune(runs_tree, capsys):
    runs_dir, names = runs_tree
    assert cli.main(["runs", "prune", "--runs-dir", str(runs_dir)]) == 0
    assert "dry run: nothing removed" in capsys.readouterr().out
    assert (runs_dir / names["old1"]).exists()
    assert cli.main(["runs", "prune", "--apply", "--runs-dir", str(runs_dir)]) == 0
    out = capsys.readouterr().out
    assert f"removed: {runs_dir / names['old1']}" in out
    assert not (runs_dir / names["old1"]).exists() and (runs_dir / names["base"]).exists()
