"""Rate matching (spec §4): choose a per-layer threshold tau so the spike rate hits a target.

Equal-width histogram of B bins over [v_min_r, v_max_r] (edges rounded outwards to a 0.001 grid);
tau is the upper edge of the first bin whose tail fraction is at most the target. The events
storage only keeps values above a floor, so the search works from the counts of the bins above
the floor and refuses a target whose tau would not lie above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class RateMatchError(ValueError):
    """A threshold cannot be chosen (degenerate range, too few samples, tau below the floor)."""


@dataclass(frozen=True)
class Threshold:
    tau: float
    bin_index: int
    v_min_r: float
    v_max_r: float


def rounded_edges(v_min: float, v_max: float, edge: float = 0.001) -> tuple[float, float]:
    """Round the value range outwards to the edge grid; hard-fail on non-finite or degenerate ranges."""
    if not (math.isfinite(v_min) and math.isfinite(v_max)):
        raise RateMatchError(f"non-finite value range [{v_min}, {v_max}]")
    v_min_r = math.floor(v_min / edge) * edge
    v_max_r = math.ceil(v_max / edge) * edge
    if v_min_r >= v_max_r:
        raise RateMatchError(f"degenerate value range: v_min_r={v_min_r} >= v_max_r={v_max_r}")
    return v_min_r, v_max_r


def bin_index(values: np.ndarray, v_min_r: float, v_max_r: float, bins: int) -> np.ndarray:
    """The bin of each value, clamped into [0, bins-1] (same arithmetic as the SQL model)."""
    clamped = np.clip(values, v_min_r, v_max_r)
    index = np.floor((clamped - v_min_r) * bins / (v_max_r - v_min_r))
    return np.clip(index, 0, bins - 1).astype(np.int64)


def select_tau_from_counts(counts_by_bin: dict[int, int] | np.ndarray, total: int, v_min_r: float,
                           v_max_r: float, target: float, bins: int, floor: float = -math.inf) -> Threshold:
    """First bin k with tail[k] = 1 - cdf[k] <= target; tau = upper edge of bin k.

    `counts_by_bin` needs only the bins above the floor (a dict or a dense array); bins not given
    count as below the floor. The tail of bin k depends only on the counts of bins > k, which are
    exact as long as tau = upper edge of k lies strictly above the floor.
    """
    dense = np.zeros(bins, dtype=np.int64)
    if isinstance(counts_by_bin, dict):
        for k, count in counts_by_bin.items():
            dense[k] += count
    else:
        dense += np.asarray(counts_by_bin, dtype=np.int64)
    k, tau = _first_bin_at_most(_values_above(dense), total, target, v_min_r, v_max_r, bins)
    k, tau = int(k), float(tau)
    if tau <= floor:
        raise RateMatchError(_below_floor(target, dense.sum() / total, floor))
    return Threshold(tau=tau, bin_index=k, v_min_r=v_min_r, v_max_r=v_max_r)


def _values_above(counts: np.ndarray) -> np.ndarray:
    """Along the last axis: the number of values in the bins above each bin k."""
    above = np.zeros_like(counts)
    above[..., :-1] = np.cumsum(counts[..., ::-1], axis=-1)[..., ::-1][..., 1:]
    return above


def _first_bin_at_most(above, total, target, v_min_r, v_max_r, bins: int):
    """(k, tau): the first bin whose tail 1 - cdf = 1 - (total - above) / total is at most the target, and
    its upper edge. Scalars or arrays (one search per row of `above`), the same arithmetic either way."""
    tail = 1.0 - (total - above) / total
    k = np.argmax(tail <= target, axis=-1)
    return k, v_min_r + (v_max_r - v_min_r) / bins * (k + 1)


def _below_floor(target: float, rate_above_floor: float, floor: float) -> str:
    """Then the search stopped at the first bin (nothing is stored below the floor), whose edge is no tau;
    what is known is the rate above the floor, at most the target, so tau is not above the floor."""
    return (f"target rate {target:g} needs a tau not above the stored floor {floor:.6g} (the values above the "
            f"floor make up a rate of only {rate_above_floor:.6g}): store events from a lower floor")


def select_tau(values: np.ndarray, target: float, bins: int = 4096, edge: float = 0.001,
               min_samples: int = 0) -> Threshold:
    """Reference search over all calibration values of one layer (no floor)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size < min_samples:
        raise RateMatchError(f"calibration sample of {values.size} values is below {min_samples}")
    v_min_r, v_max_r = rounded_edges(float(values.min()), float(values.max()), edge)
    counts = np.bincount(bin_index(values, v_min_r, v_max_r, bins), minlength=bins)
    return select_tau_from_counts(counts, values.size, v_min_r, v_max_r, target, bins)


def achieved_rate(values: np.ndarray, tau: float, total: int | None = None) -> float:
    """Fraction of values strictly above tau (spikes use a strict '>')."""
    values = np.asarray(values)
    return float(np.count_nonzero(values > tau)) / (values.size if total is None else total)


def tau_table(histograms, ranges, targets, bins: int):
    """Thresholds for every (model_role, spike_def_id, target_rate, gain, layer): the search of
    `select_tau_from_counts` (`_first_bin_at_most`), for all layers and targets at once.

    histograms: model_role, spike_def_id, gain, layer, bin_index, n_values_in_bin (bins above the floor)
    ranges:     model_role, spike_def_id, gain, layer, v_min_r, v_max_r, n_values, value_floor
    targets:    model_role, spike_def_id, target_rate, layer, r_star
    """
    import pandas as pd

    keys = ["model_role", "spike_def_id", "gain", "layer"]
    columns = ["model_role", "spike_def_id", "target_rate", "gain", "layer", "r_star", "tau", "bin_index",
               "v_min_r", "v_max_r"]
    layers = ranges[keys + ["v_min_r", "v_max_r", "n_values", "value_floor"]].reset_index(drop=True)
    counts = np.zeros((len(layers), bins), dtype=np.int64)
    binned = histograms.merge(layers[keys].reset_index(), on=keys, how="inner")
    np.add.at(counts, (binned["index"].to_numpy(), binned.bin_index.to_numpy()), binned.n_values_in_bin.to_numpy())
    plan = layers.reset_index().merge(targets, on=["model_role", "spike_def_id", "layer"], how="inner")
    if plan.empty:
        return pd.DataFrame({name: [] for name in columns})
    k, tau = _first_bin_at_most(_values_above(counts)[plan["index"].to_numpy()],
                                plan.n_values.to_numpy(np.int64)[:, None], plan.r_star.to_numpy(np.float64)[:, None],
                                plan.v_min_r.to_numpy(np.float64), plan.v_max_r.to_numpy(np.float64), bins)
    below = np.flatnonzero(tau <= plan.value_floor.to_numpy(np.float64))
    if below.size:
        row = plan.iloc[below[0]]
        rate_above_floor = counts[row["index"]].sum() / row.n_values
        raise RateMatchError(f"column floor: rate matching ({row.model_role}, {row.spike_def_id}, target "
                             f"{row.target_rate:g}, g={row.gain}, layer {row.layer}): "
                             f"{_below_floor(row.r_star, rate_above_floor, row.value_floor)}")
    table = plan.assign(tau=tau, bin_index=k)[columns]
    return table.sort_values(columns[:5], ignore_index=True)
