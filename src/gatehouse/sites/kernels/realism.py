"""Realism statistics that need arrays (bootstrap intervals of the concentration metrics), and the gate
tests generated from the metric registry.

Everything else of the scorecard (Gini, top-k, coverage, southern share, quantiles, CV, grades)
is SQL in models/sites/; the definitions are in the docs block `realism_metrics`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from gatehouse.sites.kernels.outlet_metrics import gini, top_share

TOP_FRACTIONS = {"top1_share": 0.01, "top5_share": 0.05, "top10_share": 0.10}


def _concentration(counts: np.ndarray) -> dict[str, float]:
    active = counts[counts > 0]
    return {"country_gini": gini(active), **{name: top_share(active, f) for name, f in TOP_FRACTIONS.items()}}


def bootstrap_concentration(site_counts: np.ndarray, seed: int, reps: int = 1000, level: float = 0.95) -> pd.DataFrame:
    """Percentile CIs of Gini and top-k shares when the sites are resampled with replacement.

    A resample of N sites over countries with counts c is Multinomial(N, c / N); metrics are taken
    over the countries active in the replicate, as in the scorecard. The stream is seeded from
    sha256("realism_bootstrap|<seed>") so a certificate is reproducible byte for byte.
    """
    counts = np.asarray(site_counts, dtype=np.int64)
    if counts.sum() <= 0:
        raise ValueError("bootstrap needs at least one site")
    digest = hashlib.sha256(f"realism_bootstrap|{seed}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    draws = rng.multinomial(counts.sum(), counts / counts.sum(), size=reps)
    replicates = pd.DataFrame([_concentration(draw) for draw in draws])
    tail = (1.0 - level) / 2.0
    point = _concentration(counts)
    return pd.DataFrame({
        "metric": list(point),
        "value": [point[name] for name in point],
        "ci_low": [float(np.quantile(replicates[name], tail)) for name in point],
        "ci_high": [float(np.quantile(replicates[name], 1.0 - tail)) for name in point],
        "reps": reps,
    })


# ---------------------------------------------------------------------------------------------------
# Gate tests of the metric registry

REGISTRY_CSV = Path("seeds/sites/realism_metrics.csv")
GATES_YAML = Path("models/sites/marts/realism/_sites_realism_gates__models.yml")
GATE_GRADES = (("B", "b", "gate_b", "threshold_b"), ("B+", "bplus", "gate_bplus", "threshold_bplus"))
BPLUS_SEVERITY = ("{{ 'error' if env_var('GATEHOUSE_REALISM_TARGET_GRADE', var('realism_target_grade')) == 'B+' "
                  "else 'warn' }}")
GATES_YAML_HEADER = f"""\
# GENERATED from {REGISTRY_CSV} by `python -m gatehouse.sites.kernels.realism` (run from the project
# directory); edit the registry, not this file. tests/python/sites/test_realism.py fails when they differ.
#
# One named gate per B and B+ threshold of the registry. B+ gates fail the build when the target grade is
# B+ (var realism_target_grade); with the default B target they are warnings, so the B+ shortfall of the
# default prior is reported (certificate bplus_frontier) without blocking its B certification. See
# dbt_project.yml for why the default is B.
"""


def gate_tests_yaml(registry_csv: str) -> str:
    """The dbt YAML of realism_gate_results with one named test per gate of the registry (seed realism_metrics)."""
    rows = list(csv.DictReader(io.StringIO(registry_csv)))
    tests = []
    for grade, name_part, gate_column, threshold_column in GATE_GRADES:
        for row in (row for row in rows if row[gate_column]):
            gate, metric = row[gate_column], row["metric"]
            config = {"meta": {"gate": gate}}
            if grade == "B+":
                config = {"severity": BPLUS_SEVERITY, **config}
            tests.append({
                "name": f"gate_realism_{name_part}_{metric}",
                "test_name": "expression_between",
                "description": f"{gate}: {metric} {row['comparison']} {row[threshold_column]} ({grade}) on every seed.",
                "arguments": {"expression": "passed::int", "min_value": 1, "row_condition": f"gate_id = '{gate}'"},
                "config": config,
            })
    document = {"version": 2, "models": [
        {"name": "realism_gate_results", "description": '{{ doc("realism_grades") }}', "data_tests": tests}]}
    return GATES_YAML_HEADER + yaml.safe_dump(document, sort_keys=False, width=120)


if __name__ == "__main__":
    GATES_YAML.write_text(gate_tests_yaml(REGISTRY_CSV.read_text(encoding="utf-8")), encoding="utf-8")
