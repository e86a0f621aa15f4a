"""Realism metrics for a 1A outlet catalogue, the 1A freeze guard, and the Python Gini and top-k shares.

* ``gini`` / ``top_share``: the one Python implementation of the SQL macros ``gini()`` / ``top_share()``
  (macros/metrics/concentration.sql), for the callers that work on arrays (1A metrics here, the S2
  rebalance diagnostic, the bootstrap intervals). The 1B scorecard itself is SQL.
* ``outlet_catalogue_metrics``: the Segment 1A realism metrics (reference §5) that an outlet
  catalogue supports on its own. The candidate-set metrics (candidate_count_median,
  Spearman(C_m, R_m), realization_ratio_median) need a candidate set and are not computed here.

``freeze_guard`` applies the §5 PASS rules to a candidate's metrics against an authority's.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
import yaml

from gatehouse.project import project_path

REQUIRED_CATALOGUE_COLUMNS = ("merchant_id", "home_country_iso", "legal_country_iso", "site_order")


# --------------------------------------------------------------------------------------------
# Concentration helpers
# --------------------------------------------------------------------------------------------

def _floats(values: Iterable[float]) -> np.ndarray:
    """Any list, Series, array or generator of numbers as a 1-D float array."""
    return np.asarray(values if hasattr(values, "__len__") else list(values), dtype=float).ravel()


def gini(values: Iterable[float]) -> float:
    """Gini coefficient: sort ascending, G = sum((2i - n - 1) x_i) / (n sum x); 0 if empty or all zero."""
    x = np.sort(_floats(values))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return 0.0
    rank = np.arange(1, n + 1)
    return float(((2 * rank - n - 1) * x).sum() / (n * total))


def top_k_count(n_items: int, fraction: float) -> int:
    """k = max(1, ceil(fraction * n_items)); the count of items in a top-fraction share."""
    return max(1, math.ceil(fraction * n_items))


def top_share(values: Iterable[float], fraction: float) -> float:
    """Share of the total held by the k = max(1, ceil(fraction * n)) largest values (0 if empty/zero)."""
    x = np.sort(_floats(values))[::-1]
    total = x.sum()
    if len(x) == 0 or total <= 0:
        return 0.0
    return float(x[: top_k_count(len(x), fraction)].sum() / total)


# --------------------------------------------------------------------------------------------
# 1A catalogue metrics (reference §5)
# --------------------------------------------------------------------------------------------

def outlet_catalogue_metrics(catalogue: pd.DataFrame, phi: Iterable[float] | None = None) -> dict[str, Any]:
    """The §5 metrics an outlet catalogue supports, plus the two §5 boolean checks.

    Definitions chosen here (the reference names the metrics but not every detail):

    * ``median_outlets_per_merchant`` is over **all** merchants, single-site ones included
      (``median_outlets_per_multisite_merchant`` is reported alongside as a diagnostic).
    * ``home_legal_mismatch_rate`` is the share of outlets whose legal country differs from home.
    * ``size_gradient_pp``: merchants ranked by outlet count (ties by merchant_id) are cut into ten
      equal-count deciles; each decile's mismatch rate is outlet-weighted; the value is
      100 * (top decile - bottom decile).
    * phi metrics use the per-merchant NB dispersion if ``phi`` is given (population stdev / mean,
      and the ratio of the 95th to 5th percentile with numpy's linear interpolation).
    """
    present = all(column in catalogue.columns for column in REQUIRED_CATALOGUE_COLUMNS) and len(catalogue) > 0
    metrics: dict[str, Any] = {"required_outputs_present": bool(present)}
    if not present:
        metrics["no_identity_anomalies"] = False
        return metrics

    per_merchant = _per_merchant_summary(catalogue)
    outlets = per_merchant["n_outlets"].to_numpy()
    metrics.update(
        {
            "merchant_count": int(len(per_merchant)),
            "outlet_count": int(outlets.sum()),
            "single_site_share": float((outlets == 1).mean()),
            "median_outlets_per_merchant": float(np.median(outlets)),
            "median_outlets_per_multisite_merchant": float(np.median(outlets[outlets > 1])) if (outlets > 1).any() else 0.0,
            "top10_outlet_share": top_share(outlets, 0.10),
            "gini_outlets_per_merchant": gini(outlets),
            "home_legal_mismatch_rate": float(per_merchant["n_mismatched"].sum() / outlets.sum()),
            "size_gradient_pp": size_gradient_pp(per_merchant),
            "multi_country_legal_spread": float((per_merchant["n_legal_countries"] > 1).mean()),
            "no_identity_anomalies": not identity_anomalies(catalogue),
        }
    )
    if phi is not None:
        metrics.update(phi_metrics(phi))
    return metrics


def _per_merchant_summary(catalogue: pd.DataFrame) -> pd.DataFrame:
    mismatched = catalogue["legal_country_iso"] != catalogue["home_country_iso"]
    grouped = catalogue.assign(mismatched=mismatched).groupby("merchant_id", sort=True)
    return pd.DataFrame(
        {
            "n_outlets": grouped.size(),
            "n_mismatched": grouped["mismatched"].sum(),
            "n_legal_countries": grouped["legal_country_iso"].nunique(),
        }
    ).reset_index()


def size_gradient_pp(per_merchant: pd.DataFrame) -> float:
    """Outlet-weighted mismatch rate of the largest merchant decile minus the smallest, in pp."""
    ranked = per_merchant.sort_values(["n_outlets", "merchant_id"], kind="stable").reset_index(drop=True)
    decile = np.arange(len(ranked)) * 10 // len(ranked)
    by_decile = ranked.groupby(decile)[["n_mismatched", "n_outlets"]].sum()
    rate = by_decile["n_mismatched"] / by_decile["n_outlets"]
    return float(100.0 * (rate.iloc[-1] - rate.iloc[0]))


def phi_metrics(phi: Iterable[float]) -> dict[str, float]:
    """phi_cv = pstdev / mean, and phi_p95_p05_ratio = q95 / q05."""
    values = _floats(phi)
    mean = values.mean()
    q05, q95 = np.quantile(values, [0.05, 0.95])
    return {
        "phi_cv": float(values.std(ddof=0) / mean) if mean > 0 else 0.0,
        "phi_p95_p05_ratio": float(q95 / q05) if q05 > 0 else float("inf"),
    }


def identity_anomalies(catalogue: pd.DataFrame) -> list[str]:
    """Structural problems: null keys, duplicate primary keys, site_order not exactly 1..n per pair."""
    problems = []
    key = list(REQUIRED_CATALOGUE_COLUMNS)
    if catalogue[key].isna().any().any():
        problems.append("null values in key columns")
    if catalogue.duplicated(["merchant_id", "legal_country_iso", "site_order"]).any():
        problems.append("duplicate (merchant_id, legal_country_iso, site_order)")
    pairs = catalogue.groupby(["merchant_id", "legal_country_iso"])["site_order"].agg(["min", "max", "nunique", "size"])
    contiguous = (pairs["min"] == 1) & (pairs["max"] == pairs["size"]) & (pairs["nunique"] == pairs["size"])
    if not contiguous.all():
        problems.append("site_order not contiguous 1..n within a (merchant, legal country) pair")
    if catalogue.groupby("merchant_id")["home_country_iso"].nunique().gt(1).any():
        problems.append("a merchant has more than one home country")
    return problems


# --------------------------------------------------------------------------------------------
# Bands and the 1A freeze guard (reference §5)
# --------------------------------------------------------------------------------------------

def load_bands(path: str | Path | None = None) -> dict:
    """The bands file: per-metric B / B_plus bands, hard gates and freeze-guard settings."""
    with open(path or project_path("policies", "sites", "outlets_1a_bands.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def band_passes(metrics: Mapping[str, Any], bands: Mapping, grade: str = "B") -> dict[str, bool]:
    """Per-metric pass flags for a grade ('B' or 'B_plus'); a metric missing from ``metrics`` fails."""
    return {name: _within(metrics.get(name), spec[grade]) for name, spec in bands["metrics"].items()}


def hard_gate_passes(metrics: Mapping[str, Any], bands: Mapping) -> dict[str, bool | None]:
    """Per-gate pass flags; None when the candidate does not report the gated metric."""
    return {
        name: (None if metrics.get(name) is None else _within(metrics[name], gate))
        for name, gate in bands["hard_gates"].items()
    }


def freeze_guard(
    candidate_metrics: Mapping[str, Any], authority_metrics: Mapping[str, Any], bands: Mapping
) -> dict[str, Any]:
    """§5 PASS rules. PASS needs all of:

    1. eligible_B: every hard gate the candidate reports passes, and the share of B bands passed is
       >= ``guard.eligible_b_min_pass_share`` (0.70);
    2. no hard gate that passed for the authority fails (or goes missing) for the candidate;
    3. no metric that was a B pass for the authority stops being one;
    4. the candidate's B-pass count is not lower than the authority's;
    5. each metric in ``guard.max_worsening`` (top10 outlet share, Gini) is at most that much
       higher than the authority's value (higher = more concentrated = worse).

    A hard gate whose metric the candidate does not report is skipped for rule 1 (the catalogue
    cannot compute candidate-set metrics) but still counts as a regression under rule 2 if the
    authority passed it.
    """
    guard = bands["guard"]
    candidate_gates = hard_gate_passes(candidate_metrics, bands)
    authority_gates = hard_gate_passes(authority_metrics, bands)
    candidate_b = band_passes(candidate_metrics, bands, "B")
    authority_b = band_passes(authority_metrics, bands, "B")
    reported = [name for name in candidate_b if candidate_metrics.get(name) is not None]
    b_pass_share = sum(candidate_b[name] for name in reported) / len(reported) if reported else 0.0

    reasons: list[str] = []
    failed_gates = [name for name, ok in candidate_gates.items() if ok is False]
    reasons += [f"hard gate failed: {name}={candidate_metrics[name]!r}" for name in failed_gates]
    if b_pass_share < float(guard["eligible_b_min_pass_share"]):
        reasons.append(f"B-band pass share {b_pass_share:.3f} < {guard['eligible_b_min_pass_share']}")
    eligible_b = not reasons

    reasons += [
        f"authority hard gate regressed: {name}"
        for name, ok in authority_gates.items()
        if ok and candidate_gates[name] is not True
    ]
    reasons += [f"authority B pass regressed: {name}" for name, ok in authority_b.items() if ok and not candidate_b[name]]
    candidate_count, authority_count = sum(candidate_b.values()), sum(authority_b.values())
    if candidate_count < authority_count:
        reasons.append(f"B-pass count {candidate_count} < authority {authority_count}")
    for name, tolerance in guard["max_worsening"].items():
        candidate_value, authority_value = candidate_metrics.get(name), authority_metrics.get(name)
        if candidate_value is None or authority_value is None:
            reasons.append(f"{name}: missing, cannot compare with authority")
        elif candidate_value > authority_value + float(tolerance) + 1e-12:
            reasons.append(f"{name} worse than authority by {candidate_value - authority_value:.4f} > {tolerance}")

    return {
        "status": "PASS" if not reasons else "FAIL",
        "reasons": reasons,
        "eligible_B": eligible_b,
        "b_pass_share": b_pass_share,
        "b_pass_count": candidate_count,
        "authority_b_pass_count": authority_count,
        "b_plus_pass_count": sum(band_passes(candidate_metrics, bands, "B_plus").values()),
        "hard_gates": candidate_gates,
        "b_passes": candidate_b,
        "not_reported": [name for name in candidate_b if candidate_metrics.get(name) is None],
    }


def _within(value: Any, band: Any) -> bool:
    """Band forms: ``true``/``false`` (boolean check), ``[low, high]`` with null for open ends,
    or ``{min: .., max: ..}``."""
    if value is None:
        return False
    if isinstance(band, bool):
        return bool(value) is band
    if isinstance(band, Mapping):
        low, high = band.get("min"), band.get("max")
    else:
        low, high = band
    if isinstance(value, bool):
        return False
    return (low is None or value >= low) and (high is None or value <= high)
