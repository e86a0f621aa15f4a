"""The CLI finds its dbt project the way dbt does (--project-dir, else the current directory upwards, else
the editable checkout), and works the same from a non-editable install (`pip install .`): started outside
the project it either gets --project-dir or says plainly that no project is there (exit 2, no traceback,
nothing written)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gatehouse.project import PROJECT_ENV, ProjectNotFound, is_gatehouse_project, project_dir

CHECKOUT = Path(__file__).resolve().parents[2]


def test_the_checkout_is_a_gatehouse_project():
    assert is_gatehouse_project(CHECKOUT)
    assert not is_gatehouse_project(CHECKOUT / "models")


def test_found_from_a_subdirectory(monkeypatch):
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    monkeypatch.chdir(CHECKOUT / "models" / "criticality")
    assert project_dir() == CHECKOUT


def test_explicit_directory_wins_and_is_checked(monkeypatch, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "dbt_project.yml").write_text("name: gatehouse\nversion: '1.0'\n")
    monkeypatch.setenv(PROJECT_ENV, str(other))
    assert project_dir() == other.resolve()
    (other / "dbt_project.yml").write_text("name: jaffle_shop\n")
    with pytest.raises(ProjectNotFound, match="no gatehouse dbt_project.yml there"):
        project_dir()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """gatehouse installed non-editable (a built wheel, no link to this checkout) into a folder of its own."""
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"  # a copy: setuptools builds in the source tree, which must stay clean
    shutil.copytree(CHECKOUT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(CHECKOUT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(root / "wheel"), str(source)], check=True, capture_output=True)
    wheel = next((root / "wheel").glob("gatehouse-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(root / "site"),
                    str(wheel)], check=True, capture_output=True)
    return root / "site"


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != PROJECT_ENV}
    environment.update({"PYTHONPATH": str(site), "DO_NOT_TRACK": "1"})
    return subprocess.run([sys.executable, "-m", "gatehouse.cli", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=600)


def test_the_installed_package_is_not_the_checkout(installed, tmp_path):
    completed = subprocess.run([sys.executable, "-c", "import gatehouse; print(gatehouse.__file__)"],
                               env={**os.environ, "PYTHONPATH": str(installed)}, cwd=tmp_path,
                               capture_output=True, text=True, check=True)
    assert completed.stdout.strip().startswith(str(installed))
    assert (installed / "gatehouse" / "runs" / "run_record.schema.json").is_file()  # package data shipped


def test_installed_outside_any_project_is_a_named_error(installed, tmp_path):
    completed = run_installed(installed, tmp_path, "phase2", "gain-grid", "--runs-dir", "runs")
    assert completed.returncode == 2
    assert "no gatehouse dbt project" in completed.stderr and "--project-dir" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "runs").exists()


def test_installed_from_outside_with_project_dir_runs_both_phase2_commands(installed, tmp_path):
    grid = run_installed(installed, tmp_path, "phase2", "gain-grid", "--preset", "flat", "--runs-dir", "runs",
                         "--project-dir", str(CHECKOUT), "--quiet")
    assert grid.returncode == 0, grid.stderr
    assert grid.stderr == ""  # --quiet: no progress lines
    gstar = run_installed(installed, tmp_path, "phase2", "select-gstar", "--runs-dir", "runs",
                          "--project-dir", str(CHECKOUT))
    assert gstar.returncode == 0, gstar.stderr
    assert "dbt build started" in gstar.stderr and " of " in gstar.stderr  # progress lines by default
    record = json.loads((tmp_path / gstar.stdout.strip() / "run_record.json").read_text())
    assert record["dependencies"] == [Path(grid.stdout.strip()).name]
    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == sorted(
        [Path(grid.stdout.strip()).name, Path(gstar.stdout.strip()).name])  # no staging debris anywhere
    assert not list(CHECKOUT.glob("runs/.staging-*"))


def test_installed_inside_the_project_finds_it_from_a_subdirectory(installed, tmp_path):
    completed = run_installed(installed, CHECKOUT / "models", "runs", "prune", "--runs-dir", str(tmp_path / "r"))
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "nothing to prune"
