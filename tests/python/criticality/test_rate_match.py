import numpy as np
import pytest

from gatehouse.criticality.rate_match import (RateMatchError, achieved_rate, bin_index, rounded_edges,
                                              select_tau, select_tau_from_counts)


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
