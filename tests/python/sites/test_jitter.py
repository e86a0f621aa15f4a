"""S6 jitter: containment, retries with the next counter block, exhaustion, determinism, and the
shape of the mixture_v2 and population_anchored proposals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from gatehouse.sites.kernels import rng
from gatehouse.sites.kernels.jitter import (BLOCKS_PER_ATTEMPT, KM_PER_DEGREE, JitterExhaustedError, JitterInputError,
                                    JitterPolicyError, jitter_sites, validate_policy)

MF = "ef" * 32
TRIANGLE = Polygon([(0, 0), (4, 0), (0, 1)])  # covers half of the 4 unit tiles' union, unevenly


def tile_sites(n: int, tiles_x: int = 4, size: float = 1.0, iso: str = "AA") -> pd.DataFrame:
    col = np.arange(n) % tiles_x
    return pd.DataFrame({"merchant_id": np.arange(n) // 10 + 100, "country_iso": iso,
                         "site_order": np.arange(n) % 10 + 1, "tile_id": col,
                         "min_lon": col * size, "max_lon": (col + 1) * size, "min_lat": 0.0, "max_lat": size})


def inside_everything(out: pd.DataFrame, geom) -> bool:
    in_tile = ((out["lon_deg"] >= out["min_lon"]) & (out["lon_deg"] <= out["max_lon"])
               & (out["lat_deg"] >= out["min_lat"]) & (out["lat_deg"] <= out["max_lat"]))
    return bool(in_tile.all() and shapely.intersects_xy(geom, out["lon_deg"], out["lat_deg"]).all())


def site_uniforms(policy_namespace: str, site: pd.Series, n_blocks: int) -> np.ndarray:
    key, hi, lo = rng.substreams(42, MF, f"in_cell_jitter:{policy_namespace}", [int(site["merchant_id"])],
                                 [site["country_iso"]], [int(site["site_order"])])
    return rng.draw_uniforms(key, hi, lo, n_blocks)[0]


@pytest.mark.parametrize("mode", ["uniform_v1", "mixture_v2", "population_anchored"])
def test_points_inside_country_and_tile(mode):
    sites = tile_sites(400)
    places = pd.DataFrame({"tile_id": [0, 0, 1], "lon": [0.2, 0.5, 1.1], "lat": [0.2, 0.5, 0.3],
                           "pop": [100.0, 10.0, 5.0]})
    out = jitter_sites(sites, {"AA": TRIANGLE}, places, {"mode": mode}, 42, MF)
    assert inside_everything(out, TRIANGLE)
    assert (out["attempts"] >= 1).all() and (out["attempts"] > 1).any()  # some retries were needed
    pd.testing.assert_frame_equal(out[sites.columns], sites)


def test_retries_use_the_next_block_and_match_a_per_site_oracle():
    sites = tile_sites(60)
    out = jitter_sites(sites, {"AA": TRIANGLE}, None, {"mode": "uniform_v1", "refine_after_attempts": 0}, 42, MF)
    for _, site in out.iterrows():
        u = site_uniforms("1B.S6.JITTER_V1", site, int(site["attempts"]))
        lon = site["min_lon"] + u[:, 0] * (site["max_lon"] - site["min_lon"])
        lat = site["min_lat"] + u[:, 1] * (site["max_lat"] - site["min_lat"])
        inside = shapely.intersects_xy(TRIANGLE, lon, lat)
        assert not inside[:-1].any() and inside[-1]
        assert (site["lon_deg"], site["lat_deg"]) == (lon[-1], lat[-1])


def test_tiny_country_inside_a_big_tile_succeeds_first_time():
    # country 0.02° wide inside a 1° tile: sampling in tile ∩ bbox makes this easy
    islet = box(0.50, 0.30, 0.52, 0.32)
    out = jitter_sites(tile_sites(50, tiles_x=1), {"AA": islet}, None, {"mode": "mixture_v2"}, 42, MF)
    assert inside_everything(out, islet)
    assert (out["attempts"] == 1).all()


def test_coastal_sliver_succeeds_after_the_rectangle_shrinks():
    # the country's bbox covers the unit tile, but only the strip x ≥ 0.97 of the tile is land (3%)
    country = shapely.union(box(0.97, 0, 10, 1), box(-10, 5, 10, 6))
    sites = tile_sites(300, tiles_x=1)
    with pytest.raises(JitterExhaustedError):
        jitter_sites(sites, {"AA": country}, None, {"mode": "uniform_v1", "refine_after_attempts": 0}, 42, MF)
    out = jitter_sites(sites, {"AA": country}, None, {"mode": "uniform_v1"}, 42, MF)
    assert inside_everything(out, country) and (out["lon_deg"] >= 0.97).all()
    assert out["attempts"].max() == 9  # refined at attempt 9: uniform inside the strip, accepted at once
    assert (out.loc[out["attempts"] == 9, "component"] == "refined_uniform").all()
    assert (out.loc[out["attempts"] < 9, "component"] == "uniform").all()


def barycentric(triangle: Polygon, x: float, y: float) -> list[float]:
    (ax, ay), (bx, by), (cx, cy) = list(triangle.exterior.coords)[:3]
    det = (by - cy) * (ax - cx) + (cx - bx) * (ay - cy)
    l1 = ((by - cy) * (x - cx) + (cx - bx) * (y - cy)) / det
    l2 = ((cy - ay) * (x - cx) + (ax - cx) * (y - cy)) / det
    return [l1, l2, 1.0 - l1 - l2]


def test_thin_diagonal_sliver_is_sampled_inside_the_polygon_not_its_box():
    # a needle from (0,0) to (1,1) with base 0.02 at x = 1: it spans the whole unit tile, so its
    # bounding box is the tile and a box proposal hits it 1% of the time (64 attempts fail ~53%)
    needle = Polygon([(0, 0), (1, 1), (1, 0.98)])
    sites = tile_sites(400, tiles_x=1)
    with pytest.raises(JitterExhaustedError, match="64 attempt"):
        jitter_sites(sites, {"AA": needle}, None, {"mode": "uniform_v1", "refine_after_attempts": 0}, 42, MF)
    out = jitter_sites(sites, {"AA": needle}, None, {"mode": "uniform_v1"}, 42, MF)
    assert inside_everything(out, needle)
    assert out["attempts"].max() == 9 and (out["attempts"] == 9).mean() > 0.9  # 0.99^8 ≈ 92% get refined
    # known answer: one triangle, so attempt 9 is A + √u_lon·((1 − u_lat)(B − A) + u_lat(C − A)) for
    # some labelling of its corners: the barycentric coordinates are {1 − s, s(1 − w), s·w}
    for _, site in out[out["attempts"] == 9].head(25).iterrows():
        u = site_uniforms("1B.S6.JITTER_V1", site, 9)[8]
        s_, w = math.sqrt(u[0]), u[1]
        expected = sorted([1 - s_, s_ * (1 - w), s_ * w])
        assert sorted(barycentric(needle, site["lon_deg"], site["lat_deg"])) == pytest.approx(expected, abs=1e-9)
    # uniform over the needle: P(x ≤ t) = t² for a triangle with apex at x = 0
    refined = out[out["attempts"] == 9]
    assert (refined["lon_deg"] <= 0.5).mean() == pytest.approx(0.25, abs=0.06)


@pytest.mark.parametrize("mode", ["uniform_v1", "mixture_v2", "population_anchored"])
def test_atoll_ring_needs_at_most_refine_plus_one_attempts(mode):
    # a lagoon ring (5% of its bounding box): the old bounding-box refinement still failed 95% of the
    # time; the triangulated ring (a polygon with a hole, several triangles) is hit at once
    ring = box(0.1, 0.1, 0.9, 0.9).difference(box(0.11, 0.11, 0.89, 0.89))
    places = pd.DataFrame({"tile_id": [0], "lon": [0.5], "lat": [0.5], "pop": [100.0]})  # in the lagoon
    sites = tile_sites(2000, tiles_x=1)
    out = jitter_sites(sites, {"AA": ring}, places, {"mode": mode}, 42, MF)
    assert inside_everything(out, ring)
    assert out["attempts"].max() == 9
    refined = out[out["component"] == "refined_uniform"]
    assert (out.loc[out["attempts"] == 9, "component"] == "refined_uniform").all() and len(refined) > 1000
    # uniform over the ring: each side strip holds about a quarter of the refined points
    west = (refined["lon_deg"] <= 0.11).mean()
    south = (refined["lat_deg"] <= 0.11).mean()
    assert west == pytest.approx(0.25, abs=0.04) and south == pytest.approx(0.25, abs=0.04)
    again = jitter_sites(sites, {"AA": ring}, places, {"mode": mode}, 42, MF)
    pd.testing.assert_frame_equal(out, again)
    alone = jitter_sites(sites.iloc[[int(refined.index[0])]], {"AA": ring}, places, {"mode": mode}, 42, MF)
    assert alone[["lon_deg", "lat_deg", "attempts"]].iloc[0].tolist() == \
        out[["lon_deg", "lat_deg", "attempts"]].loc[refined.index[0]].tolist()


def test_blocks_per_attempt_is_the_mode_budget():
    assert BLOCKS_PER_ATTEMPT == {"uniform_v1": 1, "mixture_v2": 1, "population_anchored": 2}


def test_impossible_site_raises_named_error():
    # the tile sits in the gap between the two parts of the country, inside its bounding box
    country = MultiPolygon([box(0, 0, 1, 1), box(9, 9, 10, 10)])
    sites = tile_sites(3, tiles_x=1).assign(tile_id=777, min_lon=4.0, max_lon=5.0, min_lat=4.0, max_lat=5.0)
    with pytest.raises(JitterExhaustedError) as error:
        jitter_sites(sites, {"AA": country}, None, {"mode": "uniform_v1", "max_attempts": 64}, 42, MF)
    err = error.value
    assert (err.merchant_id, err.country_iso, err.site_order, err.tile_id, err.attempts) == (100, "AA", 1, 777, 64)
    for text in ("merchant_id=100", "country_iso=AA", "site_order=1", "tile_id=777", "64 attempt"):
        assert text in str(err)


def test_tile_outside_country_bbox_raises_without_drawing():
    sites = tile_sites(1, tiles_x=1).assign(min_lon=50.0, max_lon=51.0)
    with pytest.raises(JitterExhaustedError, match="does not overlap"):
        jitter_sites(sites, {"AA": box(0, 0, 1, 1)}, None, {"mode": "uniform_v1"}, 42, MF)


def test_deterministic_and_one_site_regenerates_alone():
    sites = tile_sites(200)
    policy = {"mode": "mixture_v2"}
    first = jitter_sites(sites, {"AA": TRIANGLE}, None, policy, 42, MF)
    pd.testing.assert_frame_equal(first, jitter_sites(sites, {"AA": TRIANGLE}, None, policy, 42, MF))
    for i in (0, 57, 199):
        alone = jitter_sites(sites.iloc[[i]], {"AA": TRIANGLE}, None, policy, 42, MF)
        assert alone[["lon_deg", "lat_deg", "attempts"]].iloc[0].tolist() == \
            first[["lon_deg", "lat_deg", "attempts"]].iloc[i].tolist()
    assert not first["lon_deg"].equals(jitter_sites(sites, {"AA": TRIANGLE}, None, policy, 43, MF)["lon_deg"])


def test_mixture_with_only_the_uniform_component_equals_uniform_v1():
    sites = tile_sites(100)
    square = box(0, 0, 4, 1)
    only_secondary = {"mode": "mixture_v2", "namespace": "NS",
                      "components": {"core": {"weight": 0}, "sparse_tail": {"weight": 0}}}
    mixed = jitter_sites(sites, {"AA": square}, None, only_secondary, 42, MF)
    uniform = jitter_sites(sites, {"AA": square}, None, {"mode": "uniform_v1", "namespace": "NS"}, 42, MF)
    # e = m = 1 gives frac = 0.5 + 0.5·(2u − 1) = u, up to rounding
    assert mixed["lon_deg"].to_numpy() == pytest.approx(uniform["lon_deg"].to_numpy(), rel=1e-12)
    assert mixed["lat_deg"].to_numpy() == pytest.approx(uniform["lat_deg"].to_numpy(), rel=1e-12)


@pytest.mark.parametrize("blend, expected", [
    (0.0, (0.10, 0.20, 0.70)),   # s = u_lon is uniform: fractions equal the weights
    (0.5, (0.02, 0.16, 0.82)),   # reference blend: s = (u_lon+u_lat)/2 is triangular, P(s<a) = 2a² for a ≤ ½
])
def test_mixture_component_fractions(blend, expected):
    sites = tile_sites(8000)
    out = jitter_sites(sites, {"AA": box(0, 0, 4, 1)}, None, {"mode": "mixture_v2", "selection_blend": blend}, 42, MF)
    fractions = out["component"].value_counts(normalize=True)[["core", "secondary", "sparse_tail"]].to_numpy()
    assert fractions == pytest.approx(expected, abs=0.015)


def test_mixture_core_lands_near_the_low_corner():
    # the component is chosen from the position uniforms: core needs u_lon + u_lat < 0.2, so c = 2u − 1
    # lies in (−1, −0.6) and frac = 0.5 − 0.4·|c|^1.6 in (0.1, 0.5 − 0.4·0.6^1.6): a corner, not the centre
    out = jitter_sites(tile_sites(8000, tiles_x=1), {"AA": box(0, 0, 1, 1)}, None, {"mode": "mixture_v2"}, 42, MF)
    core = out[out["component"] == "core"]
    upper = 0.5 - 0.4 * 0.6**1.6
    for axis in ("lon_deg", "lat_deg"):
        assert ((core[axis] > 0.1) & (core[axis] < upper)).all()


def test_population_anchored_concentrates_on_the_heaviest_place():
    tile = 0.1  # degrees, ~11 km at the equator
    sites = tile_sites(3000, tiles_x=1, size=tile)
    places = pd.DataFrame({"tile_id": [0, 0], "lon": [0.02, 0.08], "lat": [0.02, 0.08], "pop": [1e6, 1e3]})
    policy = {"mode": "population_anchored",
              "components": {"anchor": {"weight": 1.0, "scale_km": 0.5, "max_km": 2.0},
                             "uniform": {"weight": 0.0}, "sparse_tail": {"weight": 0.0}}}
    out = jitter_sites(sites, {"AA": box(0, 0, tile, tile)}, places, policy, 42, MF)
    km_lat = (out["lat_deg"] - 0.02) * KM_PER_DEGREE
    km_lon = (out["lon_deg"] - 0.02) * KM_PER_DEGREE * np.cos(np.radians(0.02))
    dist_km = np.hypot(km_lat, km_lon)
    near_heavy = dist_km <= 2.0 + 1e-9
    assert near_heavy.mean() > 0.99                      # P(heavy) = 1e6 / (1e6 + 1e3)
    # mean of an exponential(0.5 km) truncated at 2 km: s − c·e^{−c/s}/(1 − e^{−c/s})
    s, c = 0.5, 2.0
    expected_mean = s - c * math.exp(-c / s) / (1 - math.exp(-c / s))
    assert dist_km[near_heavy].mean() == pytest.approx(expected_mean, rel=0.05)
    assert inside_everything(out, box(0, 0, tile, tile))


def test_population_anchored_gaussian_radius_follows_truncated_rayleigh():
    tile = 0.1
    places = pd.DataFrame({"tile_id": [0], "lon": [0.05], "lat": [0.05], "pop": [1.0]})
    policy = {"mode": "population_anchored",
              "components": {"anchor": {"weight": 1.0, "radius_law": "gaussian", "scale_km": 0.6, "max_km": 1.5},
                             "uniform": {"weight": 0.0}, "sparse_tail": {"weight": 0.0}}}
    out = jitter_sites(tile_sites(3000, tiles_x=1, size=tile), {"AA": box(0, 0, tile, tile)}, places, policy, 42, MF)
    dist_km = np.hypot((out["lat_deg"] - 0.05) * KM_PER_DEGREE,
                       (out["lon_deg"] - 0.05) * KM_PER_DEGREE * np.cos(np.radians(0.05)))
    assert dist_km.max() <= 1.5 + 1e-9
    s, c, r = 0.6, 1.5, 0.6
    cdf_at_r = (1 - math.exp(-r**2 / (2 * s**2))) / (1 - math.exp(-c**2 / (2 * s**2)))
    assert (dist_km <= r).mean() == pytest.approx(cdf_at_r, abs=0.03)


def test_population_anchored_falls_back_to_uniform_without_places():
    sites = tile_sites(200, tiles_x=2)
    places = pd.DataFrame({"tile_id": [0], "lon": [0.5], "lat": [0.5], "pop": [10.0]})
    out = jitter_sites(sites, {"AA": box(0, 0, 2, 1)}, places, {"mode": "population_anchored"}, 42, MF)
    assert (out.loc[out["tile_id"] == 1, "component"] == "fallback_uniform").all()
    assert (out.loc[out["tile_id"] == 0, "component"] != "fallback_uniform").all()
    site = out[out["tile_id"] == 1].iloc[0]
    u = site_uniforms("1B.S6.POP_ANCHOR_V1", site, 2)  # attempt 1 uses block 0 for the position
    assert (site["lon_deg"], site["lat_deg"]) == (1.0 + u[0, 0], u[0, 1])


def anchored(anchor: dict, **density) -> dict:
    return {"mode": "population_anchored",
            "components": {"anchor": {"weight": 1.0, **anchor}, "uniform": {"weight": 0.0},
                           "sparse_tail": {"weight": 0.0}},
            "local_density": density}


def km_from(out: pd.DataFrame, lon: float, lat: float) -> np.ndarray:
    return np.hypot((out["lat_deg"] - lat) * KM_PER_DEGREE,
                    (out["lon_deg"] - lon) * KM_PER_DEGREE * np.cos(np.radians(lat))).to_numpy()


@pytest.mark.parametrize("n_sites, at_small", [(10, 0.0), (200, 0.10)])
def test_places_expecting_too_few_sites_get_none(n_sites, at_small):
    # the tile's places hold 900 and 100 people: with 10 sites the small one expects 1 < 2 and gets
    # none; with 200 it expects 20 and gets its 10%
    tile = 0.1
    places = pd.DataFrame({"tile_id": [0, 0], "lon": [0.02, 0.08], "lat": [0.02, 0.08], "pop": [900.0, 100.0]})
    policy = anchored({"radius_law": "gaussian", "scale_km": 0.3, "max_km": 0.9}, min_expected_sites=2.0)
    out = jitter_sites(tile_sites(n_sites, tiles_x=1, size=tile), {"AA": box(0, 0, tile, tile)}, places, policy, 42, MF)
    near_small = km_from(out, 0.08, 0.08) <= 0.9 + 1e-9
    assert (near_small | (km_from(out, 0.02, 0.02) <= 0.9 + 1e-9)).all()
    assert near_small.mean() == pytest.approx(at_small, abs=0.04)


def test_radius_grows_with_the_sites_expected_at_the_place():
    # one place, k = 100 sites: factor clip(sqrt(100 / 4), 1, 3) = 3, so the truncated Rayleigh radius has
    # sigma 0.3·3 km and cap 0.9·3 km
    tile = 0.2
    places = pd.DataFrame({"tile_id": [0], "lon": [0.1], "lat": [0.1], "pop": [50.0]})
    policy = anchored({"radius_law": "gaussian", "scale_km": 0.3, "max_km": 0.9}, radius_exponent=0.5,
                      reference_sites=4.0, max_factor=3.0)
    sites = tile_sites(3000, tiles_x=1, size=tile).assign(tile_sites=100)
    out = jitter_sites(sites, {"AA": box(0, 0, tile, tile)}, places, policy, 42, MF)
    dist = km_from(out, 0.1, 0.1)
    s, c, r = 0.9, 2.7, 0.9
    assert dist.max() <= c + 1e-9 and dist.max() > 0.9 * c
    cdf_at_r = (1 - math.exp(-r**2 / (2 * s**2))) / (1 - math.exp(-c**2 / (2 * s**2)))
    assert (dist <= r).mean() == pytest.approx(cdf_at_r, abs=0.03)
    # without the column the count comes from the frame (3000 sites: factor capped at 3 as well)
    counted = jitter_sites(sites.drop(columns="tile_sites"), {"AA": box(0, 0, tile, tile)}, places, policy, 42, MF)
    pd.testing.assert_frame_equal(counted, out.drop(columns="tile_sites"))
    # a site regenerates alone when its tile's count is given
    alone = jitter_sites(sites.iloc[[7]], {"AA": box(0, 0, tile, tile)}, places, policy, 42, MF)
    assert alone[["lon_deg", "lat_deg"]].iloc[0].tolist() == out[["lon_deg", "lat_deg"]].iloc[7].tolist()
    # a lone site (k = 1, factor clipped up to 1) keeps the base radius
    one = jitter_sites(sites.assign(tile_sites=1), {"AA": box(0, 0, tile, tile)}, places, policy, 42, MF)
    assert km_from(one, 0.1, 0.1).max() <= 0.9 + 1e-9


def test_policy_validation_errors_are_clear():
    with pytest.raises(JitterPolicyError, match="unknown jitter mode"):
        validate_policy({"mode": "gaussian_v9"})
    with pytest.raises(JitterPolicyError, match="unknown key policy.components.core.sigma"):
        validate_policy({"mode": "mixture_v2", "components": {"core": {"sigma": 1}}})
    with pytest.raises(JitterPolicyError, match="policy.components.core.weight"):
        validate_policy({"mode": "mixture_v2", "components": {"core": {"weight": -1}}})
    with pytest.raises(JitterPolicyError, match="exponent"):
        validate_policy({"mode": "mixture_v2", "components": {"core": {"exponent": 0}}})
    with pytest.raises(JitterPolicyError, match="positive sum"):
        validate_policy({"mode": "population_anchored", "components": {
            "anchor": {"weight": 0}, "uniform": {"weight": 0}, "sparse_tail": {"weight": 0}}})
    with pytest.raises(JitterPolicyError, match="radius_law"):
        validate_policy({"mode": "population_anchored", "components": {"anchor": {"radius_law": "cauchy"}}})
    with pytest.raises(JitterPolicyError, match="max_attempts"):
        validate_policy({"mode": "uniform_v1", "max_attempts": 0})
    with pytest.raises(JitterPolicyError, match="local_density.radius_exponent"):
        validate_policy({"mode": "population_anchored", "local_density": {"radius_exponent": -0.5}})
    with pytest.raises(JitterPolicyError, match="local_density.max_factor"):
        validate_policy({"mode": "population_anchored", "local_density": {"min_factor": 2.0, "max_factor": 1.0}})
    with pytest.raises(JitterPolicyError, match="unknown key policy.local_density"):
        validate_policy({"mode": "mixture_v2", "local_density": {"radius_exponent": 0.5}})
    assert validate_policy({"mode": "mixture_v2"})["components"]["core"]["exponent"] == 1.6


def test_missing_geometry_is_an_input_error():
    with pytest.raises(JitterInputError, match="no country geometry"):
        jitter_sites(tile_sites(2), {}, None, {"mode": "uniform_v1"}, 42, MF)
