"""The one run layer: every published run record satisfies the versioned JSON Schema (checked before
publishing), failed attempts and stale staging folders are seen by `runs prune`, a full disk is one
plain line, and progress lines echo dbt's finished nodes."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatehouse import cli, dbt_invoke, progress
from gatehouse.runs import RunError, new_run, prune
from gatehouse.runs.core import disk_full_message
from gatehouse.runs.layout import FAILED_DIR
from gatehouse.runs.record import RECORD_VERSION, SCHEMA_PATH, record_errors

from .published import failed_attempts, nothing_published

SUMMARY = {"invocation_id": "abc", "dbt_version": "1.11.16", "nodes": [
    {"unique_id": "test.gatehouse.gate_x.1", "name": "gate_x", "status": "pass", "failures": 0, "message": None,
     "gate": "G-1"}]}


def publish(runs_dir: Path, config: dict, complete: bool = True) -> Path:
    with new_run(runs_dir, "T01", config) as run:
        (run.results / "out.txt").write_text("42\n")
        run.record["phase_id"] = "TEST_PHASE"
        if complete:
            run.artifact("out", "results/out.txt")
            run.record_dbt(SUMMARY, select=["+x"])
        return run.final


def test_a_published_record_follows_the_schema(tmp_path):
    final = publish(tmp_path, {"a": 1})
    record = json.loads((final / "run_record.json").read_text())
    assert record["record_version"] == RECORD_VERSION == json.loads(SCHEMA_PATH.read_text())["$id"]
    assert record_errors(record) == []
    assert record["dbt"] == {"invocation_id": "abc", "select": ["+x"], "tests": [
        {"name": "gate_x", "unique_id": "test.gatehouse.gate_x.1", "status": "pass", "failures": 0, "gate": "G-1"}]}


def test_a_record_breaking_the_schema_is_not_published(tmp_path):
    with pytest.raises(RunError, match=r"breaks run_record.schema.json .*'artifacts' is a required property"):
        publish(tmp_path, {"a": 2}, complete=False)
    assert nothing_published(tmp_path)
    kept = failed_attempts(tmp_path)
    assert len(kept) == 1 and json.loads((kept[0] / "run_record.json").read_text())["stage_status"] == "failed"


@pytest.mark.parametrize("change, problem", [
    (lambda r: r.pop("artifacts"), "'artifacts' is a required property"),
    (lambda r: r["dbt"].pop("tests"), "dbt: 'tests' is a required property"),
    (lambda r: r.update(run_id="RUN_T01_xyz"), "run_id: 'RUN_T01_xyz' does not match"),
    (lambda r: r.update(seeds=[]), "seeds: [] should be non-empty"),
    (lambda r: r.update(dependencies=["../etc"]), "dependencies/0"),
    (lambda r: r["artifact_index"][0].update(relative_path="../x"), "artifact_index/0/relative_path"),
    (lambda r: r.update(stage_status="started"), "stage_status: 'complete' was expected"),
])
def test_schema_names_each_problem(tmp_path, change, problem):
    record = json.loads((publish(tmp_path, {"a": 3}) / "run_record.json").read_text())
    change(record)
    assert any(problem in line for line in record_errors(record)), record_errors(record)


def test_prune_sees_failed_attempts_and_removes_them_only_when_asked(tmp_path):
    with pytest.raises(RunError):
        publish(tmp_path, {"a": 4}, complete=False)
    good = publish(tmp_path, {"a": 5})
    (attempt,) = failed_attempts(tmp_path)
    stale = tmp_path / ".staging-RUN_T01_0123456789ab-999999999"
    stale.mkdir()
    text = prune.describe_plan(prune.prune(tmp_path), applied=False)
    assert f"kept failed attempt: {attempt}  (evidence; --include-failed removes it)" in text
    assert f"would remove stale staging: {stale}" in text
    assert cli.main(["runs", "prune", "--apply", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    assert attempt.exists() and not stale.exists() and good.exists()
    assert cli.main(["runs", "prune", "--apply", "--include-failed", "--runs-dir", str(tmp_path), "--quiet"]) == 0
    assert not attempt.exists() and good.exists()


def test_runs_prune_does_not_import_a_domain():
    code = ("import sys; from gatehouse.runs import commands, prune; "
            "print(sorted(m for m in sys.modules if m.startswith(('gatehouse.sites', 'gatehouse.criticality'))))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_disk_full_is_one_line_naming_the_place(tmp_path):
    message = disk_full_message("IO Error: could not write file: No space left on device", tmp_path)
    assert message.startswith(f"disk full while writing under {tmp_path.resolve()} (")
    assert "MiB free now" in message
    assert disk_full_message("some other error", tmp_path) is None


def test_disk_full_inside_a_run_is_named_and_the_attempt_kept(tmp_path):
    with pytest.raises(RunError) as raised:
        with new_run(tmp_path, "T01", {"a": 6}):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "results/metrics.parquet")
    first_line = str(raised.value).splitlines()[0]
    assert first_line.startswith("disk full while writing under") and len(str(raised.value)) < 400
    assert nothing_published(tmp_path) and failed_attempts(tmp_path)


def test_disk_full_reported_by_dbt_is_one_line(tmp_path, monkeypatch):
    noise = "\n".join(f"10:00:{i:02d}  some dbt logging line {i}" for i in range(200))
    monkeypatch.setattr(dbt_invoke, "_run_streaming",
                        lambda *a: (2, noise + "\nIO Error: No space left on device\n"))
    with pytest.raises(RunError) as raised:
        dbt_invoke.dbt_build(["+x"], {}, tmp_path / "w.duckdb", tmp_path / "dbt")
    assert str(raised.value).startswith("disk full while writing under") and "\n" not in str(raised.value)


def test_progress_echoes_finished_nodes_only(capsys):
    progress.configure(True)
    progress.dbt_line("10:00:01  3 of 32 START sql table model main.x ........ [RUN]\n")
    progress.dbt_line("10:00:02  3 of 32 OK created sql table model main.x ........ [OK in 0.10s]\n")
    progress.dbt_line("10:00:02  4 of 32 FAIL 2 gate_y .......... [FAIL 2 in 0.02s]\n")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("] 3 of 32 OK created sql table model main.x [OK in 0.10s]")
    assert lines[1].endswith("] 4 of 32 FAIL 2 gate_y [FAIL 2 in 0.02s]")
    progress.configure(False)
    progress.say("hidden")
    assert capsys.readouterr().err == ""
    progress.configure(True)


def test_failed_dir_is_never_a_run_folder_name():
    from gatehouse.runs.layout import RUN_ID_PATTERN
    assert not RUN_ID_PATTERN.fullmatch(FAILED_DIR)
