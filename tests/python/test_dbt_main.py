"""The runs' dbt process (gatehouse.dbt_main): dbt's exit work done, then no interpreter teardown."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import pytest

from gatehouse.dbt_invoke import DBT_COMMAND
from gatehouse.dbt_main import exit_code, write_ahead_log_may_remain
from gatehouse.project import project_dir

PROJECT_DIR = project_dir()


def run_dbt(directory: Path, *arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "GATEHOUSE_DB": "w.duckdb", "DO_NOT_TRACK": "1",
                   "DBT_LOG_PATH": str(directory / "logs")}
    command = [*DBT_COMMAND, *arguments, "--project-dir", str(PROJECT_DIR),
               "--profiles-dir", str(PROJECT_DIR / "profiles"), "--target-path", str(directory / "target")]
    return subprocess.run(command, cwd=directory, env=environment, capture_output=True, text=True)


def test_a_build_leaves_its_tables_in_the_database_file_and_no_write_ahead_log(tmp_path):
    completed = run_dbt(tmp_path, "build", "--select", "+stg_geo__iso_codes")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert not (tmp_path / "w.duckdb.wal").exists()
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        assert con.execute("select count(*) from raw_geo__iso_codes").fetchone()[0] > 200
    finally:
        con.close()
    assert (tmp_path / "target" / "run_results.json").is_file()


def test_a_failing_build_exits_with_dbts_code(tmp_path):
    completed = run_dbt(tmp_path, "build", "--select", "stg_geo__iso_codes", "--vars", '{"model_roles": []}')
    assert completed.returncode == 2  # what plain `dbt` exits with here
    assert "bad --vars: model_roles must be a non-empty list" in completed.stdout


@pytest.mark.parametrize("code, expected", [(None, 0), (0, 0), (2, 2), ("a message", 1)])
def test_exit_code_is_what_sys_exit_would_give(code, expected, capsys):
    assert exit_code(SystemExit(code)) == expected
    assert capsys.readouterr().err == ("a message\n" if isinstance(code, str) else "")


def test_teardown_is_skipped_only_when_the_database_has_no_write_ahead_log(tmp_path):
    (tmp_path / "w.duckdb").touch()
    assert not write_ahead_log_may_remain({"GATEHOUSE_DB": "w.duckdb"}, tmp_path)
    (tmp_path / "w.duckdb.wal").touch()
    assert write_ahead_log_may_remain({"GATEHOUSE_DB": "w.duckdb"}, tmp_path)
    assert write_ahead_log_may_remain({"GATEHOUSE_DB": str(tmp_path / "w.duckdb")}, Path("/elsewhere"))
    assert write_ahead_log_may_remain({}, tmp_path)  # no known database: the normal exit
