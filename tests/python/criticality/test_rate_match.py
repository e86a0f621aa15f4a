import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality.rate_match import (RateMatchError, achieved_rate, bin_index, rounded_edges,
                                              select_tau, select_tau_from_counts, tau_table)


def test_linspace_target_is_met_within_tolerance():
    values = np.linspace(0, 1, 200_000, endpoint=False)
    threshold = select_tau(values, 0.1)
    assert abs(achieved_rate(values, threshold.tau) - 0.1) <= 5e-4


def test_tau_is_upper_edge_of_first_bin_with_tail_at_most_target():
    # 10 values 0.0005..0.0095 on [0, 0.01] with 10 bins of width 0.001: each bin holds one value.
    values = np.arange(10) / 1000 + 0.0005
    threshold = select_tau(values, target=0.35, bins=10)
    # tail after bin k = (9 - k) / 10 <= 0.35 first at k = 6 -> tau = 0.007, spikes 0.0075..0.0095
    assert threshold.bin_index == 6
    assert threshold.tau == pytest.approx(0.007)
    assert achieved_rate(values, threshold.tau) == pytest.approx(0.3)


def test_counts_above_a_floor_give_the_same_tau_as_all_values():
    rng = np.random.default_rng(7)
    values = rng.standard_normal(500_000)
    v_min_r, v_max_r = rounded_edges(values.min(), values.max())
    floor = 2.0
    bins = bin_index(values[values > floor], v_min_r, v_max_r, 4096)
    counts = dict(zip(*np.unique(bins, return_counts=True)))
    for target in (1e-3, 5e-3, 1e-2):
        full = select_tau(values, target)
        partial = select_tau_from_counts(counts, values.size, v_min_r, v_max_r, target, 4096, floor=floor)
        assert partial == full


def test_target_needing_tau_below_the_floor_is_refused():
    with pytest.raises(RateMatchError, match="not above the stored floor"):
        select_tau_from_counts({4095: 1}, 1000, 0.0, 1.0, target=0.5, bins=4096, floor=0.9)


def test_degenerate_range_and_small_samples_fail():
    with pytest.raises(RateMatchError, match="degenerate"):
        rounded_edges(1.0, 1.0)
    with pytest.raises(RateMatchError, match="non-finite"):
        rounded_edges(float("nan"), 1.0)
    with pytest.raises(RateMatchError, match="below 20000"):
        select_tau(np.arange(100.0), 0.1, min_samples=20000)


def test_edges_round_outwards_to_the_grid():
    assert rounded_edges(-0.0004, 0.0101) == (pytest.approx(-0.001), pytest.approx(0.011))


def test_tau_table_repeats_the_scalar_search_for_every_layer_and_target():
    rng = np.random.default_rng(11)
    bins, keys = 256, ["model_role", "spike_def_id", "gain", "layer"]
    ranges = pd.DataFrame([{"model_role": "INSTRUCT", "spike_def_id": spike_def, "gain": gain, "layer": layer,
                            "v_min_r": 0.0, "v_max_r": 10.0, "n_values": 50_000, "value_floor": 1.0}
                           for spike_def in ("A", "B") for gain in (0.9, 1.1) for layer in range(3)])
    histograms = pd.concat([pd.DataFrame({**dict(zip(keys, row)), "bin_index": np.arange(30, bins),
                                          "n_values_in_bin": rng.integers(0, 40, bins - 30)})
                            for row in ranges[keys].itertuples(index=False)], ignore_index=True)
    targets = pd.DataFrame([{"model_role": "INSTRUCT", "spike_def_id": spike_def, "target_rate": rate, "layer": layer,
                             "r_star": rate * (1 + layer / 10)}
                            for spike_def in ("A", "B") for rate in (0.01, 0.05) for layer in range(3)])
    table = tau_table(histograms, ranges, targets, bins)
    assert len(table) == 24
    for row in table.itertuples():
        group = histograms[(histograms.spike_def_id == row.spike_def_id) & (histograms.gain == row.gain)
                           & (histograms.layer == row.layer)]
        expected = select_tau_from_counts(dict(zip(group.bin_index, group.n_values_in_bin)), 50_000, 0.0, 10.0,
                                          row.r_star, bins, floor=1.0)
        assert (row.tau, row.bin_index) == (expected.tau, expected.bin_index)


def test_tau_table_refuses_a_tau_below_the_floor():
    ranges = pd.DataFrame([{"model_role": "R", "spike_def_id": "A", "gain": 1.0, "layer": 0, "v_min_r": 0.0,
                            "v_max_r": 1.0, "n_values": 1000, "value_floor": 0.9}])
    histograms = pd.DataFrame([{"model_role": "R", "spike_def_id": "A", "gain": 1.0, "layer": 0, "bin_index": 4095,
                                "n_values_in_bin": 1}])
    targets = pd.DataFrame([{"model_role": "R", "spike_def_id": "A", "target_rate": 0.5, "layer": 0, "r_star": 0.5}])
    with pytest.raises(RateMatchError, match=r"rate matching \(R, A, target 0.5, g=1.0, layer 0\).*not above the stored floor"):
        tau_table(histograms, ranges, targets, 4096)
