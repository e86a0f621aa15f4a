"""Where the dbt project lives, and the CANON constants it keeps in seeds.

The project is found the way dbt finds it: an explicit directory (`gatehouse --project-dir`, which sets
GATEHOUSE_PROJECT_DIR for every process of the run, dbt's Python models included), else the current
directory or the nearest parent with a gatehouse `dbt_project.yml`, else the source checkout of an
editable install. A non-editable install run outside a project gets a named error, not a traceback.
"""

from __future__ import annotations

import csv
import os
from functools import lru_cache
from pathlib import Path

PROJECT_ENV = "GATEHOUSE_PROJECT_DIR"


class ProjectNotFound(ValueError):
    """No gatehouse dbt project where one was looked for."""


def is_gatehouse_project(folder: Path) -> bool:
    marker = folder / "dbt_project.yml"
    if not marker.is_file():
        return False
    return any(line.split(":", 1)[1].strip().strip("'\"") == "gatehouse"
               for line in marker.read_text(encoding="utf-8").splitlines() if line.startswith("name:"))


def project_dir() -> Path:
    explicit = os.environ.get(PROJECT_ENV)
    if explicit:
        folder = Path(explicit).resolve()
        if not is_gatehouse_project(folder):
            raise ProjectNotFound(f"--project-dir {folder}: no gatehouse dbt_project.yml there")
        return folder
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if is_gatehouse_project(folder):
            return folder
    checkout = Path(__file__).resolve().parents[2]
    if is_gatehouse_project(checkout):
        return checkout
    raise ProjectNotFound(f"no gatehouse dbt project (dbt_project.yml with name: gatehouse) in {here} or above it; "
                          "run inside the project or pass --project-dir DIR")


def project_path(*parts: str) -> Path:
    return project_dir().joinpath(*parts)


def _read_seed(folder: Path, name: str) -> list[dict[str, str]]:
    with open(folder / "seeds" / "criticality" / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def canon() -> dict:
    """CANON constants and enums, read from the seeds that the dbt models join against."""
    return _canon(project_dir())


@lru_cache(maxsize=None)
def _canon(folder: Path) -> dict:
    constants = {row["constant_name"]: float(row["constant_value"]) for row in _read_seed(folder, "canon_constants")}
    return {
        "gain_grid": tuple(float(row["gain"]) for row in _read_seed(folder, "canon_gain_grid")),
        "target_rates": tuple(float(row["target_rate"]) for row in _read_seed(folder, "canon_target_rates")),
        "spike_defs": tuple(row["spike_def_id"] for row in _read_seed(folder, "canon_spike_defs")),
        "model_roles": tuple(row["model_role"] for row in _read_seed(folder, "canon_model_roles")),
        "tau0_baseline": constants["TAU0_BASELINE"],
        "gain_baseline": constants["GAIN_BASELINE"],
        "rate_match_tol_abs": constants["RATE_MATCH_TOL_ABS"],
        "hist_bins": int(constants["RATE_MATCH_HIST_BINS"]),
        "edge_round_abs": constants["RATE_MATCH_EDGE_ROUND_ABS"],
        "min_cal_samples": int(constants["RATE_MATCH_MIN_CAL_SAMPLES"]),
    }
