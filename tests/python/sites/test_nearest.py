"""Nearest-neighbour distances against great-circle known answers and a brute-force haversine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gatehouse.sites.kernels.nearest import EARTH_RADIUS_M, nearest_neighbour_m, nn_quantiles


def haversine_m(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def test_equator_points_one_degree_apart():
    d = nearest_neighbour_m([0.0, 0.0, 0.0], [10.0, 11.0, 13.0])
    one_degree = math.radians(1.0) * EARTH_RADIUS_M  # 111,195.08 m for R = 6,371,008.8 m
    assert one_degree == pytest.approx(111_195.08, abs=0.01)
    assert d == pytest.approx([one_degree, one_degree, 2 * one_degree], rel=1e-9)


def test_meridian_and_antimeridian_pairs():
    # 0.5° along a meridian, and two points straddling the antimeridian 0.2° apart at latitude 60
    d = nearest_neighbour_m([40.0, 40.5, 60.0, 60.0], [5.0, 5.0, 179.9, -179.9])
    assert d[:2] == pytest.approx(math.radians(0.5) * EARTH_RADIUS_M, rel=1e-9)
    assert d[2:] == pytest.approx(haversine_m(60.0, 179.9, 60.0, -179.9), rel=1e-9)


def test_duplicates_give_zero_and_single_point_gives_nan():
    assert nearest_neighbour_m([1.0, 1.0, 5.0], [2.0, 2.0, 2.0])[:2].tolist() == [0.0, 0.0]
    assert np.isnan(nearest_neighbour_m([1.0], [2.0])).all()


def test_matches_brute_force_haversine():
    gen = np.random.default_rng(0)
    lat = np.degrees(np.arcsin(gen.uniform(-1, 1, 500)))
    lon = gen.uniform(-180, 180, 500)
    pairwise = haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    np.fill_diagonal(pairwise, np.inf)
    assert nearest_neighbour_m(lat, lon) == pytest.approx(pairwise.min(axis=1), rel=1e-7, abs=1e-3)


def test_quantiles_are_numpy_linear():
    d = np.arange(101, dtype=float)
    q = nn_quantiles(d)
    assert q == {0.5: 50.0, 0.75: 75.0, 0.9: 90.0, 0.95: 95.0, 0.99: 99.0}
    assert nn_quantiles([0.0, 10.0], qs=(0.25,)) == {0.25: 2.5}
