"""Straightforward numpy reference for the Phase 2 gain-grid metrics (the benchmark baseline).

From the same events + summaries parquet files the dbt build reads, and with the same
definitions (reference/phase2.md §3, §4, §6):

1. per (model_role, spike_def, gain, layer): the equal-width histogram of the stored values above
   the floor and the spec §4 tau search (`rate_match.select_tau_from_counts`);
2. per target rate: the per-layer targets r*_l from the TAU0 profile at g = GAIN_BASELINE, as
   `int_rate_targets.sql` does (r_base_l = n_above_tau0 / n_values, rescaled so the mean over
   layers is the target, clipped to [0, 1]);
3. per condition (spike_def, target_rate, gain) and per sequence: the dense [L, T] occupancy raster
   of the rate-matched spikes (v > tau_l, strict), `branching.sequence_counts`, and the exact
   within-layer permutation-null expectation; pooled as ratios of sums over the sequences.

The output has the columns of `gain_grid_metrics` (and a tau table with those of
`tau_rate_matched`). It deliberately keeps the per-sequence loop: it is the "obvious" numpy
implementation the SQL pipeline is measured against, and an independent check of its numbers.

`gain_grid_metrics_vectorised` computes the same table from whole-file arrays (no loop over sequences):
the strongest straightforward numpy the pipeline is also measured against.

Run: python -m gatehouse.criticality.reference --events E.parquet --summaries S.parquet --out M.parquet [--vectorised]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from gatehouse.criticality.branching import BranchingCounts, sequence_counts
from gatehouse.criticality.rate_match import bin_index, rounded_edges, select_tau_from_counts
from gatehouse.project import canon

SPIKE_ONE_SIDED, SPIKE_TWO_SIDED = "SPIKE_ONE_SIDED_POS", "SPIKE_TWO_SIDED_ABS"
METRIC_COLUMNS = [
    "model_role", "spike_def_id", "target_rate", "gain", "b_time", "b_depth", "b_tot", "b_time_perm",
    "b_depth_perm", "b_tot_perm", "delta_b_time", "delta_b_depth", "delta_b_tot", "b_time_excl_boundary",
    "b_depth_excl_boundary", "b_tot_excl_boundary", "achieved_rate_mean", "achieved_rate_max_abs_err",
    "rate_match_tol_abs", "n_sequences", "n_occupied_sites", "in_canonical_grid",
]
TAU_COLUMNS = ["model_role", "spike_def_id", "target_rate", "gain", "layer", "tau", "v_min", "v_max",
               "target_layer_rate", "achieved_rate", "achieved_rate_abs_err", "rate_match_tol_abs", "n_values"]


def spike_values(z: np.ndarray, spike_def_id: str) -> np.ndarray:
    """The thresholded quantity v (spec §3): z for ONE_SIDED_POS, |z| for TWO_SIDED_ABS (float64)."""
    z = np.asarray(z, dtype=np.float64)
    if spike_def_id == SPIKE_ONE_SIDED:
        return z
    if spike_def_id == SPIKE_TWO_SIDED:
        return np.abs(z)
    raise ValueError(f"unknown spike_def_id {spike_def_id!r}")


def prepare_summaries(summaries: pd.DataFrame, edge: float) -> pd.DataFrame:
    """Per (model_role, spike_def, gain, layer): n_values and the histogram range rounded outwards."""
    frame = summaries.copy()
    frame["n_values"] = (frame.n_sequences.astype(np.int64) * frame.seq_len.astype(np.int64)
                         * frame.d_ff.astype(np.int64))
    edges = [rounded_edges(float(lo), float(hi), edge) for lo, hi in zip(frame.v_min, frame.v_max)]
    frame["v_min_r"] = [lo for lo, _ in edges]
    frame["v_max_r"] = [hi for _, hi in edges]
    return frame.rename(columns={"floor": "value_floor"})


def rate_targets(ranges: pd.DataFrame, target_rates, gain_baseline: float) -> dict:
    """{(model_role, spike_def_id, target_rate): r*_l as an array over layers 0..L-1}, from prepared summaries."""
    targets = {}
    baseline = ranges[ranges.gain == gain_baseline]
    for (role, spike_def_id), rows in baseline.groupby(["model_role", "spike_def_id"], sort=True):
        rows = rows.sort_values("layer")
        r_base = rows.n_above_tau0.to_numpy(np.float64) / rows.n_values.to_numpy(np.float64)
        r_base_mean = r_base.mean()
        for target_rate in target_rates:
            targets[(role, spike_def_id, float(target_rate))] = np.clip(r_base * target_rate / r_base_mean, 0.0, 1.0)
    return targets


def read_events(path: Path, model_role: str) -> dict[str, np.ndarray]:
    """One model role's events as numpy arrays in their stored types (the role filter is pushed down)."""
    table = pq.read_table(path, columns=["gain", "seq_id", "token", "layer", "z"],
                          filters=[("model_role", "==", model_role)])
    return {name: table[name].to_numpy() for name in table.column_names}


def _condition_events(events: dict[str, np.ndarray], gain: float) -> dict[str, np.ndarray]:
    """One gain's events, ordered by sequence (stable, so the stored order is kept within a sequence)."""
    rows = np.flatnonzero(events["gain"] == gain)
    order = rows[np.argsort(events["seq_id"][rows], kind="stable")]
    return {name: events[name][order] for name in ("seq_id", "token", "layer", "z")}


def _layer_histograms(v, layer, keep, v_min_r, v_max_r, bins: int, n_layers: int) -> np.ndarray:
    """[L, bins] counts of the kept values per layer, binned with the spec §4 arithmetic."""
    layer_kept = layer[keep]
    index = bin_index(v[keep], v_min_r[layer_kept], v_max_r[layer_kept], bins)
    return np.bincount(layer_kept * bins + index, minlength=n_layers * bins).reshape(n_layers, bins)


def _pooled_condition(seq_id, layer, token, n_layers: int, seq_len: int) -> dict:
    """Per sequence: dense [L, T] raster, counts and permutation-null expectation; pooled sums."""
    total = BranchingCounts(0, 0, 0, 0, 0)
    num_time_perm = num_depth_perm = 0.0
    if seq_id.size:
        starts = np.r_[0, np.flatnonzero(np.diff(seq_id)) + 1]
        stops = np.r_[starts[1:], seq_id.size]
        for start, stop in zip(starts, stops):
            raster = np.zeros((n_layers, seq_len), dtype=bool)
            raster[layer[start:stop], token[start:stop]] = True
            total = total + sequence_counts(raster)
            k = raster.sum(axis=1).astype(np.float64)
            num_time_perm += float((k * (k - 1)).sum()) / seq_len
            num_depth_perm += float((k[:-1] * k[1:]).sum()) / seq_len
    return {"counts": total, "num_time_perm": num_time_perm, "num_depth_perm": num_depth_perm}


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def _branching_columns(counts: BranchingCounts, num_time_perm: float, num_depth_perm: float) -> dict:
    """The b_* columns of one condition from its pooled counts and permutation-null numerators."""
    b_time, b_depth = _ratio(counts.num_time, counts.denom), _ratio(counts.num_depth, counts.denom)
    b_time_perm, b_depth_perm = _ratio(num_time_perm, counts.denom), _ratio(num_depth_perm, counts.denom)
    b_time_x = _ratio(counts.num_time, counts.denom_time_valid)
    b_depth_x = _ratio(counts.num_depth, counts.denom_depth_valid)
    return {"b_time": b_time, "b_depth": b_depth, "b_tot": b_time + b_depth, "b_time_perm": b_time_perm,
            "b_depth_perm": b_depth_perm, "b_tot_perm": b_time_perm + b_depth_perm,
            "delta_b_time": b_time - b_time_perm, "delta_b_depth": b_depth - b_depth_perm,
            "delta_b_tot": (b_time + b_depth) - (b_time_perm + b_depth_perm),
            "b_time_excl_boundary": b_time_x, "b_depth_excl_boundary": b_depth_x,
            "b_tot_excl_boundary": b_time_x + b_depth_x}


def gain_grid_metrics(events: dict[str, np.ndarray], summaries: pd.DataFrame, model_role: str,
                      constants: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(metrics, tau table) for one model role, from event arrays and the raw summaries frame."""
    constants = canon() if constants is None else constants
    bins, tol = constants["hist_bins"], constants["rate_match_tol_abs"]
    ranges = prepare_summaries(summaries[summaries.model_role == model_role], constants["edge_round_abs"])
    targets = rate_targets(ranges, constants["target_rates"], constants["gain_baseline"])
    grid = set(constants["gain_grid"])
    metric_rows, tau_rows = [], []
    for gain in sorted(ranges.gain.unique()):
        condition = _condition_events(events, gain)
        for spike_def_id in [sd for sd in constants["spike_defs"] if sd in set(ranges.spike_def_id)]:
            layers = ranges[(ranges.gain == gain) & (ranges.spike_def_id == spike_def_id)].sort_values("layer")
            n_layers, seq_len = len(layers), int(layers.seq_len.max())
            n_values = layers.n_values.to_numpy(np.int64)
            floor = layers.value_floor.to_numpy(np.float64)
            v_min_r, v_max_r = layers.v_min_r.to_numpy(np.float64), layers.v_max_r.to_numpy(np.float64)
            v = spike_values(condition["z"], spike_def_id)
            known = condition["layer"] < n_layers
            keep = known & (v > floor[np.where(known, condition["layer"], 0)])
            histograms = _layer_histograms(v, condition["layer"], keep, v_min_r, v_max_r, bins, n_layers)
            for target_rate in constants["target_rates"]:
                r_star = targets[(model_role, spike_def_id, float(target_rate))]
                tau = np.array([select_tau_from_counts(histograms[l], int(n_values[l]), float(v_min_r[l]),
                                                       float(v_max_r[l]), float(r_star[l]), bins,
                                                       floor=float(floor[l])).tau for l in range(n_layers)])
                spike = keep & (v > tau[np.where(keep, condition["layer"], 0)])
                n_spikes = np.bincount(condition["layer"][spike], minlength=n_layers)
                achieved = n_spikes / n_values
                errors = np.abs(achieved - r_star)
                pooled = _pooled_condition(condition["seq_id"][spike], condition["layer"][spike],
                                           condition["token"][spike], n_layers, seq_len)
                metric_rows.append({
                    "model_role": model_role, "spike_def_id": spike_def_id, "target_rate": float(target_rate),
                    "gain": float(gain), **_branching_columns(pooled["counts"], pooled["num_time_perm"],
                                                              pooled["num_depth_perm"]),
                    "achieved_rate_mean": float(achieved.mean()), "achieved_rate_max_abs_err": float(errors.max()),
                    "rate_match_tol_abs": tol, "n_sequences": int(layers.n_sequences.max()),
                    "n_occupied_sites": pooled["counts"].denom, "in_canonical_grid": float(gain) in grid,
                })
                for l in range(n_layers):
                    tau_rows.append({
                        "model_role": model_role, "spike_def_id": spike_def_id, "target_rate": float(target_rate),
                        "gain": float(gain), "layer": l, "tau": float(tau[l]), "v_min": float(v_min_r[l]),
                        "v_max": float(v_max_r[l]), "target_layer_rate": float(r_star[l]),
                        "achieved_rate": float(achieved[l]), "achieved_rate_abs_err": float(errors[l]),
                        "rate_match_tol_abs": tol, "n_values": int(n_values[l]),
                    })
    order = ["model_role", "spike_def_id", "target_rate", "gain"]
    metrics = pd.DataFrame(metric_rows, columns=METRIC_COLUMNS).sort_values(order, ignore_index=True)
    taus = pd.DataFrame(tau_rows, columns=TAU_COLUMNS).sort_values(order + ["layer"], ignore_index=True)
    return metrics, taus


# ------------------------------------------------------------------------- vectorised variant
# The same numbers from whole-file arrays: one bincount per spike definition gives every histogram, the tau
# search is one matrix operation, and per condition the spikes are scattered into one dense occupancy array
# of the whole lattice [gain, seq, layer, token], on which neighbour pairs are counted by shifted ANDs.

def _kept(z, spike_def_id: str, known, row, site, floor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, v, site) of the events above their (gain, layer) floor."""
    v = spike_values(z, spike_def_id)
    keep = known & (v > floor[np.where(known, row, 0)])
    return row[keep], v[keep], site[keep]


def _histograms(row, v, v_min_r, v_max_r, bins: int) -> np.ndarray:
    """[rows, bins] counts, binned with the spec §4 arithmetic of `rate_match.bin_index`."""
    lo, hi = v_min_r[row], v_max_r[row]
    index = np.clip(np.floor((np.clip(v, lo, hi) - lo) * bins / (hi - lo)), 0, bins - 1).astype(np.int64)
    return np.bincount(row.astype(np.int64) * bins + index, minlength=v_min_r.size * bins).reshape(-1, bins)


def _tails(histograms: np.ndarray, n_values: np.ndarray) -> np.ndarray:
    """1 - cdf at every bin of every (gain, layer) row: the rate of the values in the bins above."""
    above = np.zeros_like(histograms)
    above[:, :-1] = np.cumsum(histograms[:, ::-1], axis=1)[:, ::-1][:, 1:]
    return 1.0 - (n_values[:, None] - above) / n_values[:, None]


def _tau_rows(tails, v_min_r, v_max_r, r_star, bins: int) -> np.ndarray:
    """tau of every row at once: the upper edge of the first bin whose tail is at most r*
    (the arithmetic of `select_tau_from_counts`)."""
    k = np.argmax(tails <= r_star[:, None], axis=1)
    return v_min_r + (v_max_r - v_min_r) / bins * (k + 1)


def _gain_sums(sites: np.ndarray, lattice: tuple[int, int, int, int]) -> dict[str, np.ndarray]:
    """Per gain, from the spikes' site keys: the branching sums and permutation-null numerators, counted on
    the dense occupancy of the whole lattice [gain, seq, layer, token] (a site is occupied once)."""
    n_gains, n_sequences, n_layers, seq_len = lattice
    occupied = np.zeros(n_gains * n_sequences * n_layers * seq_len, dtype=bool)
    occupied[sites] = True
    x = occupied.reshape(n_gains, n_sequences, n_layers, seq_len)
    k = x.sum(axis=3, dtype=np.int64)  # occupied tokens per (gain, seq, layer)

    def per_gain(pick) -> np.ndarray:
        return np.array([np.count_nonzero(pick(x[g])) for g in range(n_gains)], dtype=np.int64)

    return {"denom": k.sum(axis=(1, 2)), "denom_time_valid": per_gain(lambda r: r[..., :-1]),
            "denom_depth_valid": k[:, :, :-1].sum(axis=(1, 2)),
            "num_time": per_gain(lambda r: r[..., :-1] & r[..., 1:]),
            "num_depth": per_gain(lambda r: r[:, :-1, :] & r[:, 1:, :]),
            "pairs_time_perm": (k * (k - 1)).sum(axis=(1, 2)),
            "pairs_depth_perm": (k[:, :, :-1] * k[:, :, 1:]).sum(axis=(1, 2))}


def gain_grid_metrics_vectorised(events: dict[str, np.ndarray], summaries: pd.DataFrame, model_role: str,
                                 constants: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What `gain_grid_metrics` returns, computed over whole-file arrays instead of per sequence."""
    constants = canon() if constants is None else constants
    bins, tol = constants["hist_bins"], constants["rate_match_tol_abs"]
    ranges = prepare_summaries(summaries[summaries.model_role == model_role], constants["edge_round_abs"])
    targets = rate_targets(ranges, constants["target_rates"], constants["gain_baseline"])
    gains = np.sort(ranges.gain.unique())
    n_layers, seq_len = int(ranges.layer.max()) + 1, int(ranges.seq_len.max())
    n_sequences = max(int(ranges.n_sequences.max()), int(events["seq_id"].max()) + 1 if events["seq_id"].size else 0)
    lattice = (gains.size, n_sequences, n_layers, seq_len)
    gain_index = np.minimum(np.searchsorted(gains, events["gain"]), gains.size - 1).astype(np.int32)
    known = (gains[gain_index] == events["gain"]) & (events["layer"] < n_layers)
    key = np.int32 if gains.size * n_sequences * n_layers * seq_len < 2**31 else np.int64  # half the bytes
    row = gain_index.astype(key) * n_layers + events["layer"]
    site = (gain_index.astype(key) * n_sequences + events["seq_id"]) * (n_layers * seq_len) \
        + events["layer"].astype(key) * seq_len + events["token"]
    metric_rows, tau_rows = [], []
    for spike_def_id in [sd for sd in constants["spike_defs"] if sd in set(ranges.spike_def_id)]:
        layers = ranges[ranges.spike_def_id == spike_def_id].sort_values(["gain", "layer"])
        floor, n_values = layers.value_floor.to_numpy(np.float64), layers.n_values.to_numpy(np.int64)
        v_min_r, v_max_r = layers.v_min_r.to_numpy(np.float64), layers.v_max_r.to_numpy(np.float64)
        kept_row, kept_v, kept_site = _kept(events["z"], spike_def_id, known, row, site, floor)
        tails = _tails(_histograms(kept_row, kept_v, v_min_r, v_max_r, bins), n_values)
        for target_rate in constants["target_rates"]:
            r_star = np.tile(targets[(model_role, spike_def_id, float(target_rate))], gains.size)
            tau = _tau_rows(tails, v_min_r, v_max_r, r_star, bins)
            spike = kept_v > tau[kept_row]
            achieved = np.bincount(kept_row[spike], minlength=tau.size) / n_values
            errors = np.abs(achieved - r_star)
            sums = _gain_sums(kept_site[spike], lattice)
            for g, gain in enumerate(gains):
                rows = slice(g * n_layers, (g + 1) * n_layers)
                counts = BranchingCounts(*(int(sums[name][g]) for name in (
                    "num_time", "num_depth", "denom", "denom_time_valid", "denom_depth_valid")))
                metric_rows.append({
                    "model_role": model_role, "spike_def_id": spike_def_id, "target_rate": float(target_rate),
                    "gain": float(gain), **_branching_columns(counts, float(sums["pairs_time_perm"][g]) / seq_len,
                                                              float(sums["pairs_depth_perm"][g]) / seq_len),
                    "achieved_rate_mean": float(achieved[rows].mean()),
                    "achieved_rate_max_abs_err": float(errors[rows].max()), "rate_match_tol_abs": tol,
                    "n_sequences": int(layers.n_sequences.max()), "n_occupied_sites": counts.denom,
                    "in_canonical_grid": float(gain) in set(constants["gain_grid"]),
                })
                tau_rows.append(pd.DataFrame({
                    "model_role": model_role, "spike_def_id": spike_def_id, "target_rate": float(target_rate),
                    "gain": float(gain), "layer": np.arange(n_layers), "tau": tau[rows], "v_min": v_min_r[rows],
                    "v_max": v_max_r[rows], "target_layer_rate": r_star[rows], "achieved_rate": achieved[rows],
                    "achieved_rate_abs_err": errors[rows], "rate_match_tol_abs": tol, "n_values": n_values[rows]}))
    order = ["model_role", "spike_def_id", "target_rate", "gain"]
    metrics = pd.DataFrame(metric_rows, columns=METRIC_COLUMNS).sort_values(order, ignore_index=True)
    taus = pd.concat(tau_rows, ignore_index=True)[TAU_COLUMNS].sort_values(order + ["layer"], ignore_index=True)
    return metrics, taus


def run(events_path: Path, summaries_path: Path, model_role: str = "INSTRUCT",
        vectorised: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    summaries = pd.read_parquet(summaries_path)
    compute = gain_grid_metrics_vectorised if vectorised else gain_grid_metrics
    return compute(read_events(Path(events_path), model_role), summaries, model_role)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, type=Path)
    parser.add_argument("--summaries", required=True, type=Path)
    parser.add_argument("--model-role", default="INSTRUCT")
    parser.add_argument("--out", type=Path, help="metrics parquet to write")
    parser.add_argument("--tau-out", type=Path, help="tau table parquet to write")
    parser.add_argument("--vectorised", action="store_true", help="whole-file arrays instead of per sequence")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    metrics, taus = run(args.events, args.summaries, args.model_role, args.vectorised)
    if args.out:
        metrics.to_parquet(args.out, index=False)
    if args.tau_out:
        taus.to_parquet(args.tau_out, index=False)
    print(f"reference: {len(metrics)} conditions in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
