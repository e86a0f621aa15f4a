import numpy as np
import pytest

from gatehouse.criticality.branching import branching, expected_permutation_null, sequence_counts


def toy_raster():
    raster = np.zeros((3, 4), dtype=np.uint8)  # [L, T]
    raster[1, 1] = raster[1, 2] = raster[2, 2] = 1
    return raster


def test_toy_raster_matches_the_spec_example():
    metrics = branching(toy_raster()[None])
    assert metrics["b_time"] == pytest.approx(1 / 3)
    assert metrics["b_depth"] == pytest.approx(1 / 3)
    # boundary-excluded: (2, 2) sits in the top layer, so b_depth = 1 / 2
    assert metrics["b_depth_excl_boundary"] == pytest.approx(1 / 2)
    assert metrics["b_time_excl_boundary"] == pytest.approx(1 / 3)


def test_iid_bernoulli_oracle():
    rng = np.random.default_rng(0)
    p, layers, tokens = 0.17, 28, 256
    rasters = rng.random((64, layers, tokens)) < p
    metrics = branching(rasters)
    assert metrics["b_time"] == pytest.approx(p * (tokens - 1) / tokens, abs=0.005)
    assert metrics["b_depth"] == pytest.approx(p * (layers - 1) / layers, abs=0.005)
    assert metrics["b_time_excl_boundary"] == pytest.approx(p, abs=0.005)


@pytest.mark.parametrize("persistence", [0.3, 0.6, 0.9])
def test_markov_raster_oracle(persistence):
    rng = np.random.default_rng(1)
    p = 0.2
    enter = p * (1 - persistence) / (1 - p)
    rasters = np.zeros((200, 8, 256), dtype=bool)
    rasters[:, :, 0] = rng.random((200, 8)) < p
    for t in range(1, 256):
        rasters[:, :, t] = rng.random((200, 8)) < np.where(rasters[:, :, t - 1], persistence, enter)
    assert branching(rasters)["b_time_excl_boundary"] == pytest.approx(persistence, abs=0.01)


def test_empty_condition_gives_nan():
    assert np.isnan(branching(np.zeros((2, 3, 4)))["b_tot"])


def test_expected_permutation_null_matches_monte_carlo_average():
    rng = np.random.default_rng(3)
    rasters = rng.random((4, 5, 17)) < 0.3
    exact = expected_permutation_null(rasters)
    draws = []
    for _ in range(3000):
        permuted = np.stack([[row[rng.permutation(row.size)] for row in seq] for seq in rasters])
        draws.append(branching(permuted)["b_tot"])
    assert np.mean(draws) == pytest.approx(exact["b_tot_perm"], abs=0.005)


def test_sequence_counts_are_integers_of_the_lattice():
    counts = sequence_counts(toy_raster())
    assert counts.astuple() == (1, 1, 3, 3, 2)
