"""The shared run layer refuses what it cannot publish into, for every command that makes a run: a
--runs-dir that is a file (or under one), or a read-only directory, is a named error (exit 2), never a
traceback, and nothing is written. Ctrl-C exits 130 with one line and leaves no staging directory.
`sites certify --last-good MISSING` is refused before anything is built."""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gatehouse import cli
from gatehouse.cli import main
from gatehouse.project import canon, project_dir

PROJECT_DIR = project_dir()
from gatehouse.runs import EXIT_FAILED

SITES = {"merchant_id": [1, 1, 2], "legal_country_iso": ["DE", "DE", "FR"], "site_order": [1, 2, 1],
         "lon_deg": [13.4, 13.5, 2.35], "lat_deg": [52.5, 52.6, 48.85]}


def metrics_file(directory: Path) -> Path:
    path = directory / "metrics.parquet"
    pd.DataFrame([{"spike_def_id": spike_def, "target_rate": rate, "gain": gain, "b_tot": 0.45 + gain / 2}
                  for spike_def in canon()["spike_defs"] for rate in canon()["target_rates"]
                  for gain in canon()["gain_grid"]]).to_parquet(path, index=False)
    return path


def sites_file(directory: Path) -> Path:
    path = directory / "sites.parquet"
    pd.DataFrame(SITES).to_parquet(path, index=False)
    return path


# Every command that publishes a run (new_run); the select-gstar default also looks for its grid run there.
COMMANDS = {
    "phase2_gain_grid": lambda inputs: ["phase2", "gain-grid"],
    "phase2_select_gstar_metrics": lambda inputs: ["phase2", "select-gstar", "--metrics", str(metrics_file(inputs))],
    "sites_run": lambda inputs: ["sites", "run", "--seed", "42"],
    "sites_score": lambda inputs: ["sites", "score", "--site-locations", str(sites_file(inputs))],
    "sites_certify": lambda inputs: ["sites", "certify", "--seeds", "42"],
}
LOOKUP_COMMANDS = {"phase2_select_gstar_grid_lookup": lambda inputs: ["phase2", "select-gstar"]}


def run_cli(argv, capsys):
    code = main(argv)
    error = capsys.readouterr().err
    assert "Traceback" not in error
    return code, error


@pytest.mark.parametrize("command", [*COMMANDS, *LOOKUP_COMMANDS])
def test_runs_dir_that_is_a_file_is_a_named_error(tmp_path, capsys, command):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    runs_file = tmp_path / "runs"
    runs_file.write_text("not a directory\n")
    argv = {**COMMANDS, **LOOKUP_COMMANDS}[command](inputs)
    code, error = run_cli([*argv, "--runs-dir", str(runs_file)], capsys)
    assert code == EXIT_FAILED, error
    assert f"--runs-dir {runs_file}: not a directory" in error
    assert runs_file.read_text() == "not a directory\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["inputs", "runs"]


def test_runs_dir_under_a_file_is_a_named_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    runs_dir = tmp_path / "file" / "runs"
    code, error = run_cli(["phase2", "gain-grid", "--runs-dir", str(runs_dir)], capsys)
    assert code == EXIT_FAILED
    assert f"--runs-dir {runs_dir}: cannot create a run directory there (Not a directory" in error


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch):
    """A directory nobody may write into. Root ignores permission bits, so as root mkdir under it is made to
    fail the way the kernel makes it fail for everyone else (EACCES)."""
    path = tmp_path / "read_only_runs"
    path.mkdir()
    path.chmod(0o555)
    if os.geteuid() == 0:
        real_mkdir = Path.mkdir

        def mkdir(self, *args, **kwargs):
            if path in Path(self).parents:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(Path, "mkdir", mkdir)
    yield path
    path.chmod(0o755)


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_runs_dir_is_a_named_error(tmp_path, capsys, read_only_dir, command):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    code, error = run_cli([*COMMANDS[command](inputs), "--runs-dir", str(read_only_dir)], capsys)
    assert code == EXIT_FAILED, error
    assert f"--runs-dir {read_only_dir}: cannot create a run directory there (Permission denied" in error
    assert list(read_only_dir.iterdir()) == []


def test_certify_refuses_a_missing_last_good_before_building_anything(tmp_path, capsys, monkeypatch):
    from gatehouse.sites.commands import gate_in, runner

    def built(*args, **kwargs):
        raise AssertionError("built something before checking --last-good")

    monkeypatch.setattr(runner, "precheck", built)
    monkeypatch.setattr(gate_in, "build", built)
    missing = tmp_path / "last_good_scorecard.parquet"
    code, error = run_cli(["sites", "certify", "--last-good", str(missing), "--runs-dir", str(tmp_path / "runs")],
                          capsys)
    assert code == EXIT_FAILED
    assert f"{missing}: file not found (--last-good)" in error
    assert not (tmp_path / "runs").exists()


# --- Ctrl-C ------------------------------------------------------------------------------------------


def interrupting(seen: list):
    """A stand-in for the dbt build that notes the staging directory it builds in, then gets Ctrl-C."""
    def build(select, variables, database, target_path, *args, **kwargs):
        seen.append(database.parent)
        assert database.parent.name.startswith(".staging-") and database.parent.is_dir()
        raise KeyboardInterrupt

    return build


@pytest.mark.parametrize("command", ["phase2_gain_grid", "phase2_select_gstar_metrics", "sites_score"])
def test_ctrl_c_exits_130_with_one_line_and_removes_the_staging_directory(tmp_path, capsys, monkeypatch, command):
    from gatehouse import dbt_invoke

    seen = []
    monkeypatch.setattr(dbt_invoke, "dbt_build", interrupting(seen))  # what runs.execute calls
    monkeypatch.setattr(dbt_invoke, "dbt_run_then_test", interrupting(seen))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    runs_dir = tmp_path / "runs"
    code, error = run_cli([*COMMANDS[command](inputs), "--runs-dir", str(runs_dir)], capsys)
    assert code == 130
    assert error.count("\n") == 1 and "interrupted" in error
    assert len(seen) == 1 and not seen[0].exists()
    assert list(runs_dir.iterdir()) == []


def start_gain_grid_mid_build(runs_dir: Path) -> subprocess.Popen:
    """A `phase2 gain-grid` CLI process in its own session, returned once its dbt build is under way: after the
    first progress line of a finished dbt node (the on-run-start hook, with the slowest model, ~5 s, still
    ahead). SIGINT is reset to its default in the child, as a terminal's shell does for the command it
    starts: a job started with `&` by a non-interactive shell (a CI script, nohup) inherits SIGINT ignored."""
    process = subprocess.Popen([sys.executable, "-m", "gatehouse.cli", "phase2", "gain-grid", "--runs-dir",
                                str(runs_dir)], cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in process.stderr:
        if re.search(r"\] \d+ of \d+ ", line):
            return process
    raise AssertionError(f"the build ended before it could be stopped (exit {process.wait()})")


def test_a_real_sigint_during_the_dbt_build_leaves_nothing(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C does, while dbt is building."""
    runs_dir = tmp_path / "runs"
    process = start_gain_grid_mid_build(runs_dir)
    os.killpg(process.pid, signal.SIGINT)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 130, error
    assert "Traceback" not in error and error.strip().splitlines()[-1].startswith("gatehouse: interrupted")
    assert list(runs_dir.iterdir()) == []


def _children(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def test_sigterm_during_the_dbt_build_kills_dbt_and_leaves_nothing(tmp_path):
    """SIGTERM to the CLI alone (as a scheduler sends it): its dbt child must not be orphaned."""
    runs_dir = tmp_path / "runs"
    process = start_gain_grid_mid_build(runs_dir)
    dbt_children = _children(process.pid)
    assert dbt_children, "no dbt child found"
    process.send_signal(signal.SIGTERM)
    _, error = process.communicate(timeout=120)
    assert process.returncode == 143, error
    assert "Traceback" not in error and error.strip().splitlines()[-1].startswith("gatehouse: terminated (SIGTERM)")
    assert list(runs_dir.iterdir()) == []
    assert not [pid for pid in dbt_children if Path(f"/proc/{pid}").exists()]


def test_a_relative_runs_dir_keeps_the_dbt_logs_inside_the_published_run(tmp_path):
    """dbt runs in the run's directory; a relative --runs-dir once sent its log to a stray nested staging path."""
    relative = os.path.relpath(tmp_path / "runs", PROJECT_DIR)
    completed = subprocess.run([sys.executable, "-m", "gatehouse.cli", "phase2", "gain-grid", "--runs-dir", relative],
                               cwd=PROJECT_DIR, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    (run_dir,) = (tmp_path / "runs").glob("RUN_*")
    assert (run_dir / "dbt" / "logs" / "dbt.log").is_file()
    assert not [path for path in run_dir.rglob("*") if ".staging-" in path.name]


def test_after_the_first_stop_signal_the_others_are_ignored():
    """A scheduler that repeats SIGTERM must not cut short the cleanup the first one started."""
    previous = {number: signal.getsignal(number) for number in cli.STOP_SIGNALS}
    try:
        with pytest.raises(cli.Terminated):
            cli._stop(signal.SIGTERM, None)
        assert all(signal.getsignal(number) is signal.SIG_IGN for number in cli.STOP_SIGNALS)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
