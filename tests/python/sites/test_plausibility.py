"""Plausibility distance kernel against great-circle known answers and a brute-force haversine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gatehouse.sites.kernels.nearest import EARTH_RADIUS_M
from gatehouse.sites.kernels.plausibility import nearest_reference_by_group_m, nearest_reference_m


def haversine_m(lat1, lon1, lat2, lon2):
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def test_equator_points_005_degrees_apart():
    step = math.radians(0.05) * EARTH_RADIUS_M
    assert step == pytest.approx(5_559.75, abs=0.01)  # 5.5597 km for R = 6,371,008.8 m
    # places at lon 10.00 and 10.05; queries at the first place, between them, and 0.05° beyond the second
    d = nearest_reference_m([0.0, 0.0, 0.0], [10.0, 10.025, 10.10], [0.0, 0.0], [10.0, 10.05])
    assert d[0] == 0.0
    assert d[1:] == pytest.approx([step / 2, step], rel=1e-9)


def test_point_exactly_at_a_place_is_zero():
    d = nearest_reference_m([48.8566, -33.8688], [2.3522, 151.2093], [-33.8688, 48.8566], [151.2093, 2.3522])
    assert d.tolist() == [0.0, 0.0]


def test_no_reference_gives_nan():
    assert np.isnan(nearest_reference_m([1.0, 2.0], [3.0, 4.0], [], [])).all()
    assert nearest_reference_m([], [], [0.0], [0.0]).shape == (0,)


def test_antimeridian():
    d = nearest_reference_m([60.0], [179.9], [60.0, 0.0], [-179.9, 179.9])
    assert d == pytest.approx(haversine_m(60.0, 179.9, 60.0, -179.9), rel=1e-9)


def test_grouped_uses_only_the_own_group():
    # query A sits on a B place, but its own nearest A place is 0.05° east; C has no reference at all
    d = nearest_reference_by_group_m(["A", "B", "C"], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                                     ["B", "A", "A"], [0.0, 0.0, 0.0], [0.0, 0.05, 1.0])
    assert d[0] == pytest.approx(math.radians(0.05) * EARTH_RADIUS_M, rel=1e-9)
    assert d[1] == 0.0 and np.isnan(d[2])


def test_matches_brute_force_and_does_not_depend_on_order():
    gen = np.random.default_rng(1)
    lat, lon = gen.uniform(-60, 60, 400), gen.uniform(-180, 180, 400)
    ref_lat, ref_lon = gen.uniform(-60, 60, 300), gen.uniform(-180, 180, 300)
    groups, ref_groups = gen.choice(["X", "Y", "Z"], 400), gen.choice(["X", "Y", "Z"], 300)
    pairwise = haversine_m(lat[:, None], lon[:, None], ref_lat[None, :], ref_lon[None, :])
    assert nearest_reference_m(lat, lon, ref_lat, ref_lon) == pytest.approx(pairwise.min(axis=1), rel=1e-7, abs=1e-3)
    grouped = nearest_reference_by_group_m(groups, lat, lon, ref_groups, ref_lat, ref_lon)
    expected = np.where(groups[:, None] == ref_groups[None, :], pairwise, np.inf).min(axis=1)
    assert grouped == pytest.approx(expected, rel=1e-7, abs=1e-3)
    shuffle = gen.permutation(300)
    again = nearest_reference_by_group_m(groups, lat, lon, ref_groups[shuffle], ref_lat[shuffle], ref_lon[shuffle])
    assert np.array_equal(again, grouped)
