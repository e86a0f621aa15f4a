"""runs.execute: one declared RunSpec gives new run -> dbt -> checks -> exports -> outputs -> record -> publish.
dbt is replaced by a stand-in that writes a known warehouse, so every exported byte has a known answer."""

from __future__ import annotations

import json
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pandas as pd
import pytest

from gatehouse.runs import RunError, execute as execute_module, sha256_file
from gatehouse.runs.execute import Export, RunSpec, execute
from gatehouse.runs.processes import PROCESSES, Processes

from .published import failed_attempts, nothing_published

SUMMARY = {"invocation_id": "inv-1", "dbt_version": "1.11.16", "nodes": [
    {"unique_id": "test.gatehouse.gate_y.1", "name": "gate_y", "status": "pass", "failures": 0, "message": None,
     "gate": "G-Y"},
    {"unique_id": "model.gatehouse.squares", "name": "squares", "status": "success", "failures": None,
     "message": None, "gate": None}]}


@pytest.fixture
def fake_dbt(monkeypatch):
    """dbt stand-in: the warehouse gets table squares(n, sq) for n = 3, 1, 2 (stored out of order)."""
    calls = []

    def build(spec, run, after_models=None):
        calls.append({"select": list(spec.select), "inputs": spec.inputs, "variables": spec.variables})
        con = duckdb.connect(str(run.staging / "warehouse.duckdb"))
        con.execute("create table squares as select * from (values (3, 9), (1, 1), (2, 4)) t(n, sq)")
        con.close()
        if after_models is not None:  # where run_then_test calls it: models built, gates not yet run
            after_models()
        return SUMMARY

    monkeypatch.setattr(execute_module, "_build", build)
    return calls


def spec(tmp_path, **changes) -> RunSpec:
    fields = dict(runs_dir=tmp_path / "runs", phase_id="TEST_EXECUTE", stage_tag="T02", config={"k": 1},
                  select=["+squares"], inputs={"x": "1"},
                  exports=[Export.table("squares_parquet", "squares", "n"),
                           Export("big_parquet", "select n from squares where sq > 3 order by n desc", "big.parquet")],
                  record={"model_role": "INSTRUCT", "dependencies": []})
    return RunSpec(**{**fields, **changes})


def test_execute_builds_exports_records_and_publishes(tmp_path, fake_dbt):
    def outputs(run, con):
        total = con.execute("select sum(sq) from squares").fetchone()[0]
        (run.results / "total.txt").write_text(f"{total}\n")
        run.artifact("total_txt", "results/total.txt")
        return total

    done = execute(spec(tmp_path, outputs=outputs))
    assert done.outcome == 14 and done.run_dir.parent == tmp_path / "runs"
    assert fake_dbt == [{"select": ["+squares"], "inputs": {"x": "1"}, "variables": {}}]
    assert pd.read_parquet(done.run_dir / "results" / "squares.parquet").to_dict("list") == {"n": [1, 2, 3],
                                                                                           "sq": [1, 4, 9]}
    assert pd.read_parquet(done.run_dir / "results" / "big.parquet").n.tolist() == [3, 2]
    record = json.loads((done.run_dir / "run_record.json").read_text())
    assert record["phase_id"] == "TEST_EXECUTE" and record["model_role"] == "INSTRUCT"
    assert [item["logical_name"] for item in record["artifact_index"]] == [
        "squares_parquet", "big_parquet", "total_txt", "warehouse_duckdb"]
    for item in record["artifact_index"]:
        assert item["sha256"] == sha256_file(done.run_dir / item["relative_path"])
    assert record["dbt"] == {"invocation_id": "inv-1", "select": ["+squares"], "inputs": {"x": "1"}, "tests": [
        {"name": "gate_y", "unique_id": "test.gatehouse.gate_y.1", "status": "pass", "failures": 0, "gate": "G-Y"}]}


def test_same_spec_gives_the_same_bytes(tmp_path, fake_dbt):
    first = execute(spec(tmp_path / "a")).run_dir
    second = execute(spec(tmp_path / "b")).run_dir
    assert first.name == second.name
    for name in ("squares.parquet", "big.parquet"):
        assert sha256_file(first / "results" / name) == sha256_file(second / "results" / name)


def test_a_failing_check_publishes_nothing_and_writes_no_export(tmp_path, fake_dbt):
    def refuse(run, con):
        assert con.execute("select count(*) from squares").fetchone()[0] == 3
        raise RunError("inputs changed while the build ran")

    with pytest.raises(RunError, match="inputs changed while the build ran"):
        execute(spec(tmp_path, checks=refuse))
    assert nothing_published(tmp_path / "runs")
    kept = failed_attempts(tmp_path / "runs")
    assert len(kept) == 1 and not (kept[0] / "results" / "squares.parquet").exists()


def test_without_a_dbt_step_there_is_no_warehouse_and_no_dbt_section(tmp_path, fake_dbt):
    def outputs(run, con):
        assert con is None
        (run.results / "x.json").write_text("{}\n")
        run.artifact("x_json", "results/x.json")

    done = execute(spec(tmp_path, select=[], exports=[], outputs=outputs))
    record = json.loads((done.run_dir / "run_record.json").read_text())
    assert fake_dbt == [] and "dbt" not in record and not (done.run_dir / "warehouse.duckdb").exists()
    assert [item["logical_name"] for item in record["artifact_index"]] == ["x_json"]


def test_an_unknown_dbt_mode_is_refused_before_a_run_exists(tmp_path, fake_dbt):
    with pytest.raises(ValueError, match="dbt_mode 'test'"):
        execute(spec(tmp_path, dbt_mode="test"))
    assert nothing_published(tmp_path / "runs")


def test_a_first_step_runs_before_the_build_and_both_are_recorded(tmp_path, fake_dbt):
    gate_in = {"invocation_id": "inv-0", "nodes": [
        {"unique_id": "test.gatehouse.gate_a.0", "name": "gate_a", "status": "pass", "failures": 0, "gate": "G-A"}]}

    def first_step(run):
        assert fake_dbt == [] and run.staging.is_dir()
        return gate_in

    record = json.loads((execute(spec(tmp_path, first_step=first_step)).run_dir / "run_record.json").read_text())
    assert record["dbt"]["invocation_id"] == "inv-1"
    assert [test["name"] for test in record["dbt"]["tests"]] == ["gate_a", "gate_y"]


def test_a_refusing_first_step_builds_nothing_else_and_publishes_nothing(tmp_path, fake_dbt):
    def first_step(run):
        raise RunError("1A freeze guard FAIL")

    with pytest.raises(RunError, match="1A freeze guard FAIL"):
        execute(spec(tmp_path, first_step=first_step))
    assert fake_dbt == [] and nothing_published(tmp_path / "runs")


def _slow_copy_of_squares(run):
    """after_models stand-in: reads the built warehouse now, writes into the run's directory later."""
    con = duckdb.connect(str(run.staging / "warehouse.duckdb"), read_only=True)
    total = con.execute("select sum(sq) from squares").fetchone()[0]
    con.close()

    def late_write():
        time.sleep(0.5)
        (run.staging / "background.txt").write_text(f"{total}\n")
        return total

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(late_write)
    pool.shutdown(wait=False)
    return future


def test_background_work_after_the_models_is_read_by_outputs(tmp_path, fake_dbt):
    started = []
    done = execute(spec(tmp_path, dbt_mode="run_then_test",
                        after_models=lambda run: started.append(_slow_copy_of_squares(run)) or started[0],
                        outputs=lambda run, con: started[0].result()))
    assert done.outcome == 14 and (done.run_dir / "background.txt").read_text() == "14\n"


def test_after_models_that_starts_nothing_publishes_as_usual(tmp_path, fake_dbt):
    done = execute(spec(tmp_path, dbt_mode="run_then_test", after_models=lambda run: None))
    assert done.run_dir.is_dir() and not failed_attempts(tmp_path / "runs")


def test_a_failed_run_waits_for_its_background_work_before_it_is_kept(tmp_path, fake_dbt):
    def refuse(run, con):
        raise RunError("a gate failed")

    with pytest.raises(RunError, match="a gate failed"):
        execute(spec(tmp_path, dbt_mode="run_then_test", after_models=_slow_copy_of_squares, checks=refuse))
    assert nothing_published(tmp_path / "runs")
    kept = failed_attempts(tmp_path / "runs")
    assert len(kept) == 1 and (kept[0] / "background.txt").read_text() == "14\n"


def test_after_models_needs_models_and_gates_in_two_steps(tmp_path, fake_dbt):
    with pytest.raises(ValueError, match="after_models needs dbt_mode run_then_test"):
        execute(spec(tmp_path, after_models=_slow_copy_of_squares))
    assert fake_dbt == [] and nothing_published(tmp_path / "runs")


def _background_sleeper(run, started: list):
    """after_models stand-in: a background thread runs a subprocess that would sleep for a minute."""
    def sleep_in_a_subprocess():
        with PROCESSES.started([sys.executable, "-c", "import time; time.sleep(60)"]) as process:
            started.append(process)
            process.wait()
        return process.returncode

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(sleep_in_a_subprocess)
    pool.shutdown(wait=False)
    while not started:
        time.sleep(0.01)
    return future


def test_a_failed_run_kills_its_background_processes_instead_of_waiting(tmp_path, fake_dbt):
    started = []

    def refuse(run, con):
        raise RunError("a gate failed")

    clock = time.monotonic()
    with pytest.raises(RunError, match="a gate failed"):
        execute(spec(tmp_path, dbt_mode="run_then_test", after_models=lambda run: _background_sleeper(run, started),
                     checks=refuse))
    assert time.monotonic() - clock < 30 and started[0].returncode == -signal.SIGKILL
    assert nothing_published(tmp_path / "runs") and len(failed_attempts(tmp_path / "runs")) == 1
    with PROCESSES.started([sys.executable, "-c", "pass"]) as process:  # the next run may start processes again
        assert process.wait() == 0


def test_failed_background_work_fails_the_run(tmp_path, fake_dbt):
    def broken(run):
        pool = ThreadPoolExecutor(max_workers=1)
        future = pool.submit(lambda: 1 / 0)
        pool.shutdown(wait=True)
        return future

    with pytest.raises(RunError, match="division by zero") as raised:
        execute(spec(tmp_path, dbt_mode="run_then_test", after_models=broken))
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    assert nothing_published(tmp_path / "runs") and len(failed_attempts(tmp_path / "runs")) == 1


def test_no_process_starts_once_the_run_is_stopping():
    processes = Processes()
    processes.stop_all()
    with pytest.raises(RunError, match="was not started: the run is stopping"):
        with processes.started([sys.executable, "-c", "pass"]):
            pass
    processes.allow()
    with processes.started([sys.executable, "-c", "pass"]) as process:
        assert process.wait() == 0


def test_a_process_is_killed_when_its_block_fails():
    with pytest.raises(KeyboardInterrupt):
        with Processes().started([sys.executable, "-c", "import time; time.sleep(60)"]) as process:
            raise KeyboardInterrupt
    assert process.returncode == -signal.SIGKILL
