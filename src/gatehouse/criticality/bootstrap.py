"""Paired bootstrap over sequences (reference §6) for the pooled branching ratios, both nulls and chi.

Per condition, one index matrix idx = default_rng(seed).integers(0, N, size=(500, N)) resamples the N
sequences with replacement; the same rows are used for the real raster, the permutation null, the
circular-shift null and chi (paired). Each replicate pools again (ratio of sums). The interval is
np.quantile(replicates, [0.025, 0.975]) with numpy's default linear interpolation.

Seed: int(sha256("1337|{run_id}|{cond_id}|branch_boot").hexdigest()[:8], 16), where run_id is the models'
seed label (var criticality_seed_run_id, default S02: fixed, so the intervals depend on the data only, not
on the route the data took) and cond_id the condition label `condition_label(...)` (this project has no
integer condition index).

The slope of b_tot(g) gets its own curve-level bootstrap: the sequences are the same calibration
windows at every gain, so one index matrix per (model_role, spike_def_id, target_rate) resamples them
jointly across the gains (seed field `slope_boot`), and the OLS slope is refitted per replicate.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

SEED_BASE = 1337
BOOT_REPS = 500
CI_QUANTILES = (0.025, 0.975)
CHI_EPS = 1e-8
CONDITION_KEYS = ["model_role", "spike_def_id", "target_rate", "gain"]
CURVE_KEYS = ["model_role", "spike_def_id", "target_rate"]
# per-sequence sums read from int_branching_counts (a missing sequence counts as zeros)
SEQUENCE_SUMS = ("n_occupied", "n_spikes", "num_time", "num_depth", "num_time_perm", "num_depth_perm",
                 "num_time_shift", "num_depth_shift")
# statistic -> (numerators summed, with sign), all divided by the pooled n_occupied
RATIO_NUMERATORS = {
    "b_time": {"num_time": 1}, "b_depth": {"num_depth": 1},
    "b_tot": {"num_time": 1, "num_depth": 1},
    "b_tot_perm": {"num_time_perm": 1, "num_depth_perm": 1},
    "b_tot_shift": {"num_time_shift": 1, "num_depth_shift": 1},
    "delta_b_time": {"num_time": 1, "num_time_perm": -1},
    "delta_b_depth": {"num_depth": 1, "num_depth_perm": -1},
    "delta_b_tot": {"num_time": 1, "num_depth": 1, "num_time_perm": -1, "num_depth_perm": -1},
    "delta_b_tot_shift": {"num_time": 1, "num_depth": 1, "num_time_shift": -1, "num_depth_shift": -1},
}


def seed_from(*fields) -> int:
    """int(sha256('f1|f2|...').hexdigest()[:8], 16): the reference's seed derivation."""
    return seed_of_text("|".join(str(field) for field in fields))


def seed_of_text(joined_fields: str) -> int:
    """seed_from of fields already joined by '|' (for callers that join a shared prefix once)."""
    return int(hashlib.sha256(joined_fields.encode()).hexdigest()[:8], 16)


def condition_label(model_role: str, spike_def_id: str, target_rate: float, gain: float | None = None) -> str:
    """The cond_id of the seed fields: the condition's keys, floats in their shortest repr."""
    parts = [str(model_role), str(spike_def_id), repr(float(target_rate))]
    return "|".join(parts if gain is None else parts + [repr(float(gain))])


def branch_boot_seed(run_id: str, cond_id: str) -> int:
    return seed_from(SEED_BASE, run_id, cond_id, "branch_boot")


def slope_boot_seed(run_id: str, curve_id: str) -> int:
    return seed_from(SEED_BASE, run_id, curve_id, "slope_boot")


def resample_indices(seed: int, n_sequences: int, reps: int = BOOT_REPS) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_sequences, size=(reps, n_sequences))


def interval(replicates: np.ndarray) -> tuple[float, float]:
    """(2.5 %, 97.5 %) quantiles of the finite replicates; NaN when there is none."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(finite, CI_QUANTILES)
    return float(low), float(high)


def susceptibility(totals: np.ndarray) -> np.ndarray:
    """chi = Var(Y) / (Mean(Y) + 1e-8) over the last axis (population variance), Y = spikes per sequence."""
    totals = np.asarray(totals, dtype=np.float64)
    return totals.var(axis=-1) / (totals.mean(axis=-1) + CHI_EPS)


def pooled_ratio(sums: dict[str, np.ndarray], numerators: dict[str, int]) -> np.ndarray:
    """Σ (signed numerators) / Σ n_occupied along the last axis; NaN where nothing is occupied."""
    numerator = sum(sign * sums[name].sum(axis=-1) for name, sign in numerators.items())
    denominator = sums["n_occupied"].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def condition_intervals(per_sequence: dict[str, np.ndarray], seed: int, reps: int = BOOT_REPS) -> dict[str, float]:
    """`<stat>_ci_low/high` of every ratio of RATIO_NUMERATORS and of chi, plus the point chi, from
    per-sequence sums [N] (paired: one index matrix for all of them)."""
    n_sequences = per_sequence["n_occupied"].size
    idx = resample_indices(seed, n_sequences, reps)
    resampled = {name: values[idx] for name, values in per_sequence.items()}
    result = {"chi": float(susceptibility(per_sequence["n_spikes"]))}
    for statistic, numerators in RATIO_NUMERATORS.items():
        result[f"{statistic}_ci_low"], result[f"{statistic}_ci_high"] = interval(pooled_ratio(resampled, numerators))
    result["chi_ci_low"], result["chi_ci_high"] = interval(susceptibility(resampled["n_spikes"]))
    return result


def dense_sequences(rows: pd.DataFrame, seq_ids: np.ndarray, n_sequences: int) -> dict[str, np.ndarray]:
    """Per-sequence sums [n_sequences] in the order of `seq_ids` (then zero rows up to n_sequences)."""
    position = {seq_id: i for i, seq_id in enumerate(seq_ids.tolist())}
    index = np.array([position[seq_id] for seq_id in rows.seq_id.tolist()], dtype=np.int64)
    dense = {}
    for name in SEQUENCE_SUMS:
        values = np.zeros(n_sequences, dtype=np.float64)
        np.add.at(values, index, rows[name].to_numpy(np.float64))
        dense[name] = values
    return dense


def _curve_sequence_ids(counts: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """Sorted seq_ids seen anywhere on each curve: a sequence keeps its position at every gain."""
    return {key: np.unique(rows.seq_id.to_numpy()) for key, rows in counts.groupby(CURVE_KEYS, sort=True)}


def _check_lattice(key: tuple, seq_ids: np.ndarray, n_sequences: int) -> None:
    if seq_ids.size > n_sequences:
        raise ValueError(f"condition {key}: {seq_ids.size} sequences with occupied sites but n_sequences = {n_sequences}")


def bootstrap_table(counts: pd.DataFrame, lattices: pd.DataFrame, run_id: str, reps: int = BOOT_REPS) -> pd.DataFrame:
    """int_branching_bootstrap: one row per condition of `lattices` (keys, chi, every *_ci_low/high)."""
    counts = counts.assign(**{name: counts[name].fillna(0) for name in SEQUENCE_SUMS})
    by_condition = {key: rows for key, rows in counts.groupby(CONDITION_KEYS, sort=True)}
    curve_ids = _curve_sequence_ids(counts)
    records = []
    for lattice in lattices.sort_values(CONDITION_KEYS).itertuples(index=False):
        key = tuple(getattr(lattice, name) for name in CONDITION_KEYS)
        n_sequences = int(lattice.n_sequences)
        rows = by_condition.get(key, counts.iloc[:0])
        seq_ids = curve_ids.get(key[:3], np.array([], dtype=np.int64))
        _check_lattice(key, seq_ids, n_sequences)
        per_sequence = dense_sequences(rows, seq_ids, n_sequences)
        seed = branch_boot_seed(run_id, condition_label(*key))
        records.append({**dict(zip(CONDITION_KEYS, key)), "n_boot": reps,
                        **condition_intervals(per_sequence, seed, reps)})
    return pd.DataFrame.from_records(records, columns=CONDITION_KEYS + ["n_boot"] + list(_interval_columns()))


def _interval_columns():
    yield "chi"
    for statistic in RATIO_NUMERATORS:
        yield f"{statistic}_ci_low"
        yield f"{statistic}_ci_high"
    yield "chi_ci_low"
    yield "chi_ci_high"


def ols_slope(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slope of y on x along the last axis (population moments), as SQL regr_slope."""
    x = np.asarray(x, dtype=np.float64)
    dx = x - x.mean()
    dy = y - y.mean(axis=-1, keepdims=True)
    return (dx * dy).sum(axis=-1) / (dx * dx).sum()


def slope_interval(gains: np.ndarray, per_gain: list[dict[str, np.ndarray]], seed: int,
                   reps: int = BOOT_REPS) -> tuple[float, float]:
    """CI of the OLS slope of b_tot(g): the same resampled sequences at every gain of the curve."""
    n_sequences = per_gain[0]["n_occupied"].size
    idx = resample_indices(seed, n_sequences, reps)
    b_tot = np.stack([pooled_ratio({name: values[idx] for name, values in sums.items()},
                                   RATIO_NUMERATORS["b_tot"]) for sums in per_gain], axis=-1)  # [reps, G]
    return interval(ols_slope(gains, b_tot))


def slope_table(counts: pd.DataFrame, lattices: pd.DataFrame, run_id: str, reps: int = BOOT_REPS) -> pd.DataFrame:
    """int_b_tot_slope_bootstrap: one row per (model_role, spike_def_id, target_rate)."""
    counts = counts.assign(**{name: counts[name].fillna(0) for name in SEQUENCE_SUMS})
    by_condition = {key: rows for key, rows in counts.groupby(CONDITION_KEYS, sort=True)}
    curve_ids = _curve_sequence_ids(counts)
    records = []
    for curve, curve_lattices in lattices.groupby(CURVE_KEYS, sort=True):
        curve_lattices = curve_lattices.sort_values("gain")
        n_sequences = int(curve_lattices.n_sequences.max())
        seq_ids = curve_ids.get(curve, np.array([], dtype=np.int64))
        _check_lattice(curve, seq_ids, n_sequences)
        gains = curve_lattices.gain.to_numpy(np.float64)
        per_gain = [dense_sequences(by_condition.get(curve + (gain,), counts.iloc[:0]), seq_ids, n_sequences)
                    for gain in gains.tolist()]
        low, high = (slope_interval(gains, per_gain, slope_boot_seed(run_id, condition_label(*curve)), reps)
                     if gains.size > 1 else (float("nan"), float("nan")))
        records.append({**dict(zip(CURVE_KEYS, curve)), "b_tot_slope_ci_low": low, "b_tot_slope_ci_high": high})
    return pd.DataFrame.from_records(records, columns=CURVE_KEYS + ["b_tot_slope_ci_low", "b_tot_slope_ci_high"])
