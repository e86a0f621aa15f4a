"""Realism statistics that need arrays: bootstrap intervals of the concentration metrics.

Everything else of the scorecard (Gini, top-k, coverage, southern share, quantiles, CV, grades)
is SQL in models/sites/; the definitions are in the docs block `realism_metrics`.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from gatehouse.sites.outlet_metrics import gini, top_share

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
