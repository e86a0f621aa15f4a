"""Paired bootstrap over sequences (reference §6): seed derivation, a numpy oracle, known variance,
pairing, chi, the slope interval."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality import bootstrap


def per_sequence(n_occupied, num_time, num_depth, perm=None, shift=None, spikes=None):
    n = len(n_occupied)
    zeros = np.zeros(n)
    perm = perm if perm is not None else (zeros, zeros)
    shift = shift if shift is not None else (zeros, zeros)
    return {"n_occupied": np.asarray(n_occupied, float), "num_time": np.asarray(num_time, float),
            "num_depth": np.asarray(num_depth, float), "num_time_perm": np.asarray(perm[0], float),
            "num_depth_perm": np.asarray(perm[1], float), "num_time_shift": np.asarray(shift[0], float),
            "num_depth_shift": np.asarray(shift[1], float),
            "n_spikes": np.asarray(spikes if spikes is not None else n_occupied, float)}


def test_seed_is_the_reference_derivation():
    expected = int(hashlib.sha256(b"1337|RUN_S02_abc|INSTRUCT|SPIKE_ONE_SIDED_POS|1e-05|0.7|branch_boot")
                   .hexdigest()[:8], 16)
    label = bootstrap.condition_label("INSTRUCT", "SPIKE_ONE_SIDED_POS", 1e-05, 0.7)
    assert label == "INSTRUCT|SPIKE_ONE_SIDED_POS|1e-05|0.7"
    assert bootstrap.branch_boot_seed("RUN_S02_abc", label) == expected


def test_tiny_case_matches_a_numpy_oracle():
    """Three sequences, the §6 recipe written out by hand: idx, pooled ratio per replicate, quantiles."""
    sums = per_sequence([4, 2, 6], [1, 0, 3], [2, 1, 1], perm=([0.5, 0.0, 1.0], [0.25, 0.5, 0.5]),
                        spikes=[5, 2, 9])
    seed = 12345
    result = bootstrap.condition_intervals(sums, seed)
    idx = np.random.default_rng(seed).integers(0, 3, size=(500, 3))
    occupied = sums["n_occupied"][idx].sum(axis=1)
    b_tot = (sums["num_time"][idx].sum(axis=1) + sums["num_depth"][idx].sum(axis=1)) / occupied
    b_perm = (sums["num_time_perm"][idx].sum(axis=1) + sums["num_depth_perm"][idx].sum(axis=1)) / occupied
    assert (result["b_tot_ci_low"], result["b_tot_ci_high"]) == tuple(np.quantile(b_tot, [0.025, 0.975]))
    delta = np.quantile(b_tot - b_perm, [0.025, 0.975])  # paired: the same idx for real and null
    assert result["delta_b_tot_ci_low"] == pytest.approx(delta[0], rel=1e-12)
    assert result["delta_b_tot_ci_high"] == pytest.approx(delta[1], rel=1e-12)
    spikes = sums["n_spikes"][idx]
    chi = spikes.var(axis=1) / (spikes.mean(axis=1) + 1e-8)
    assert (result["chi_ci_low"], result["chi_ci_high"]) == tuple(np.quantile(chi, [0.025, 0.975]))


def test_interval_of_a_known_variance_case():
    """One occupied site per sequence and a time pair with probability p: b_time is a sample mean of
    N Bernoulli values, so its 95 % interval is about ± 1.96 sqrt(p (1 - p) / N)."""
    n, p = 2000, 0.3
    pairs = np.zeros(n)
    pairs[: int(n * p)] = 1
    result = bootstrap.condition_intervals(per_sequence(np.ones(n), pairs, np.zeros(n)), seed=7)
    half_width = 1.959964 * np.sqrt(p * (1 - p) / n)
    assert result["b_time_ci_low"] == pytest.approx(p - half_width, abs=0.15 * half_width)
    assert result["b_time_ci_high"] == pytest.approx(p + half_width, abs=0.15 * half_width)


def test_chi_is_the_population_fano_factor():
    assert bootstrap.susceptibility(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(1.25 / (2.5 + 1e-8))


def test_identical_sequences_give_a_degenerate_interval():
    result = bootstrap.condition_intervals(per_sequence([5] * 10, [2] * 10, [1] * 10), seed=1)
    assert result["b_tot_ci_low"] == pytest.approx(0.6) and result["b_tot_ci_high"] == pytest.approx(0.6)
    assert result["chi"] == 0.0


def counts_frame(gain_b_time: dict[float, float], n_sequences=8, missing_sequence=None):
    rows = []
    for gain, b_time in gain_b_time.items():
        for seq_id in range(n_sequences):
            if seq_id == missing_sequence:
                continue
            rows.append({"model_role": "INSTRUCT", "spike_def_id": "SPIKE_ONE_SIDED_POS", "target_rate": 1e-05,
                         "gain": gain, "seq_id": seq_id, "n_occupied": 10, "n_spikes": 12 + seq_id,
                         "num_time": 10 * b_time, "num_depth": 0, "num_time_perm": 1.0, "num_depth_perm": 0.0,
                         "num_time_shift": 2, "num_depth_shift": 0})
    lattices = pd.DataFrame([{"model_role": "INSTRUCT", "spike_def_id": "SPIKE_ONE_SIDED_POS", "target_rate": 1e-05,
                              "gain": gain, "n_sequences": n_sequences, "n_layers": 3, "seq_len": 4}
                             for gain in gain_b_time])
    return pd.DataFrame(rows), lattices


def test_slope_interval_of_an_exactly_linear_curve_is_the_slope():
    counts, lattices = counts_frame({0.9: 0.45, 1.0: 0.5, 1.1: 0.55})
    table = bootstrap.slope_table(counts, lattices, "RUN")
    assert table.b_tot_slope_ci_low.iloc[0] == pytest.approx(0.5)
    assert table.b_tot_slope_ci_high.iloc[0] == pytest.approx(0.5)


def test_bootstrap_table_is_deterministic_and_counts_empty_sequences_as_zero():
    counts, lattices = counts_frame({1.0: 0.5}, missing_sequence=3)
    first = bootstrap.bootstrap_table(counts, lattices, "RUN_A")
    assert first.equals(bootstrap.bootstrap_table(counts, lattices, "RUN_A"))
    assert not first.equals(bootstrap.bootstrap_table(counts, lattices, "RUN_B"))  # run_id is a seed field
    spikes = np.array([12 + s for s in range(8)], dtype=float)
    spikes[3] = 0.0  # the sequence without an occupied site is a zero row, not dropped
    assert first.chi.iloc[0] == pytest.approx(spikes.var() / (spikes.mean() + 1e-8))
    assert first.b_tot_ci_low.iloc[0] == pytest.approx(0.5) and first.b_tot_ci_high.iloc[0] == pytest.approx(0.5)
