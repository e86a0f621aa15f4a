"""Lattice branching ratios on occupancy rasters X[l, t] (spec §6), numpy reference version.

The dbt models compute the same quantities in SQL; this module is the oracle for tests and the
straightforward per-sequence baseline for the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BranchingCounts:
    num_time: int
    num_depth: int
    denom: int             # all occupied sites (the published convention)
    denom_time_valid: int  # occupied sites with a forward token neighbour (t < T-1)
    denom_depth_valid: int  # occupied sites with a layer above (l < L-1)

    def __add__(self, other: "BranchingCounts") -> "BranchingCounts":
        return BranchingCounts(*(a + b for a, b in zip(self.astuple(), other.astuple())))

    def astuple(self) -> tuple[int, ...]:
        return (self.num_time, self.num_depth, self.denom, self.denom_time_valid, self.denom_depth_valid)


def sequence_counts(occupancy: np.ndarray) -> BranchingCounts:
    """Counts for one sequence; `occupancy` is [L, T] of 0/1."""
    x = np.asarray(occupancy, dtype=bool)
    return BranchingCounts(
        num_time=int(np.count_nonzero(x[:, :-1] & x[:, 1:])),
        num_depth=int(np.count_nonzero(x[:-1, :] & x[1:, :])),
        denom=int(np.count_nonzero(x)),
        denom_time_valid=int(np.count_nonzero(x[:, :-1])),
        denom_depth_valid=int(np.count_nonzero(x[:-1, :])),
    )


def pooled_branching(counts: BranchingCounts) -> dict[str, float]:
    """Ratio of sums over the sequences of one condition; NaN when nothing is occupied."""
    def ratio(numerator: int, denominator: int) -> float:
        return numerator / denominator if denominator else float("nan")

    b_time, b_depth = ratio(counts.num_time, counts.denom), ratio(counts.num_depth, counts.denom)
    b_time_x = ratio(counts.num_time, counts.denom_time_valid)
    b_depth_x = ratio(counts.num_depth, counts.denom_depth_valid)
    return {
        "b_time": b_time, "b_depth": b_depth, "b_tot": b_time + b_depth,
        "b_time_excl_boundary": b_time_x, "b_depth_excl_boundary": b_depth_x,
        "b_tot_excl_boundary": b_time_x + b_depth_x,
    }


def branching(rasters: np.ndarray) -> dict[str, float]:
    """Pooled branching over a stack of occupancy rasters [N, L, T]."""
    total = BranchingCounts(0, 0, 0, 0, 0)
    for occupancy in rasters:
        total = total + sequence_counts(occupancy)
    return pooled_branching(total)


def expected_permutation_null(rasters: np.ndarray) -> dict[str, float]:
    """Exact expectation of pooled b under independent within-layer time permutations.

    With k_l occupied tokens in layer l of T: E[time pairs] = k_l (k_l - 1) / T and
    E[depth pairs between l and l+1] = k_l k_{l+1} / T; the denominator is unchanged.
    """
    k = np.asarray(rasters, dtype=bool).sum(axis=2).astype(np.float64)  # [N, L]
    tokens = np.asarray(rasters).shape[2]
    denom = k.sum()
    if denom == 0:
        return {"b_time_perm": float("nan"), "b_depth_perm": float("nan"), "b_tot_perm": float("nan")}
    b_time = float((k * (k - 1)).sum() / tokens / denom)
    b_depth = float((k[:, :-1] * k[:, 1:]).sum() / tokens / denom)
    return {"b_time_perm": b_time, "b_depth_perm": b_depth, "b_tot_perm": b_time + b_depth}


LAYER_COUNT_COLUMNS = ("n_occupied", "n_spikes", "num_time", "num_depth", "n_occupied_time_valid",
                       "n_occupied_next_layer")


def dense_layer_counts(spike_counts: np.ndarray) -> dict[str, np.ndarray]:
    """Per (sequence, layer) counts of a raster A [N, L, T] (spikes per site), each [N, L]:
    occupied sites k, spikes, time pairs, depth pairs with the layer above, occupied sites with
    t < T-1, and k of the layer above (0 for the top layer). Summed over layers and sequences
    they give `sequence_counts` and the permutation-null numerators."""
    a = np.asarray(spike_counts)
    x = a > 0
    k = x.sum(axis=2)
    top = np.zeros_like(k[:, :1])
    return {
        "n_occupied": k,
        "n_spikes": a.sum(axis=2),
        "num_time": (x[:, :, :-1] & x[:, :, 1:]).sum(axis=2),
        "num_depth": np.concatenate([(x[:, :-1, :] & x[:, 1:, :]).sum(axis=2), top], axis=1),
        "n_occupied_time_valid": x[:, :, :-1].sum(axis=2),
        "n_occupied_next_layer": np.concatenate([k[:, 1:], top], axis=1),
    }
