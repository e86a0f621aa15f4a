"""Plain dbt with malformed --vars stops in one line before any node runs (on-run-start check_vars)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gatehouse.project import project_dir

PROJECT_DIR = project_dir()

BAD_VARS = [
    ({"sites_seeds": [7, 7]}, "sites_seeds must be distinct"),
    ({"sites_seeds": "42"}, "sites_seeds must be a non-empty list"),
    ({"sites_seeds": [-1]}, "sites_seeds: -1 is not an integer"),
    ({"sites_catalogue_seed": "x"}, "sites_catalogue_seed must be an integer"),
    ({"realism_target_grade": "A+"}, "realism_target_grade must be one of ['B', 'B+'], got A+"),
    ({"spike_preset": "nope"}, "spike_preset must be one of"),
    ({"spike_source": "csv"}, "spike_source must be one of"),
    ({"model_roles": []}, "model_roles must be a non-empty list"),
    ({"model_roles": ["BASE", "BASE"]}, "model_roles must be a non-empty list of distinct"),
]


@pytest.mark.parametrize("variables, message", BAD_VARS, ids=[next(iter(v)) + str(i) for i, (v, _) in enumerate(BAD_VARS)])
def test_bad_vars_fail_before_any_node(tmp_path, variables, message):
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--select", "stg_geo__iso_codes",
               "--vars", json.dumps(variables), "--target-path", str(tmp_path / "target"),
               "--profiles-dir", str(PROJECT_DIR / "profiles")]
    environment = {**os.environ, "GATEHOUSE_DB": str(tmp_path / "w.duckdb"), "DO_NOT_TRACK": "1",
                   "DBT_LOG_PATH": str(tmp_path / "logs")}
    completed = subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True)
    assert completed.returncode != 0
    assert f"bad --vars: {message}" in completed.stdout
    assert "START sql" not in completed.stdout and "OK created" not in completed.stdout  # no node ran
