"""Where the dbt project lives, and the CANON constants it keeps in seeds."""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
CRITICALITY_SEEDS = PROJECT_DIR / "seeds" / "criticality"


def _read_seed(name: str) -> list[dict[str, str]]:
    with open(CRITICALITY_SEEDS / f"{name}.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@lru_cache(maxsize=None)
def canon() -> dict:
    """CANON constants and enums, read from the seeds that the dbt models join against."""
    constants = {row["constant_name"]: float(row["constant_value"]) for row in _read_seed("canon_constants")}
    return {
        "gain_grid": tuple(float(row["gain"]) for row in _read_seed("canon_gain_grid")),
        "target_rates": tuple(float(row["target_rate"]) for row in _read_seed("canon_target_rates")),
        "spike_defs": tuple(row["spike_def_id"] for row in _read_seed("canon_spike_defs")),
        "model_roles": tuple(row["model_role"] for row in _read_seed("canon_model_roles")),
        "tau0_baseline": constants["TAU0_BASELINE"],
        "gain_baseline": constants["GAIN_BASELINE"],
        "rate_match_tol_abs": constants["RATE_MATCH_TOL_ABS"],
        "hist_bins": int(constants["RATE_MATCH_HIST_BINS"]),
        "edge_round_abs": constants["RATE_MATCH_EDGE_ROUND_ABS"],
        "min_cal_samples": int(constants["RATE_MATCH_MIN_CAL_SAMPLES"]),
    }
