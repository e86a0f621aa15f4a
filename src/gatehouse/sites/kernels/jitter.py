"""S6: place each site at a point inside its tile and inside its country polygon.

Every site has its own substream (label `in_cell_jitter:<namespace>`, keyed by seed, manifest
fingerprint, merchant, country and site_order), so any one site can be regenerated alone. Attempt a
(0-based) consumes the fixed block budget B of the mode, blocks a·B … a·B + B − 1:

| mode                  | B | uniforms per attempt                                                  |
|-----------------------|---|-----------------------------------------------------------------------|
| `uniform_v1`          | 1 | (u_lon, u_lat)                                                        |
| `mixture_v2`          | 1 | (u_lon, u_lat); the component is chosen from the same two uniforms    |
| `population_anchored` | 2 | block 0 (u_lon/u_radius, u_lat/u_angle), block 1 (u_select, u_place)  |

Points are proposed inside the sampling rectangle = tile rectangle ∩ country bounding box (a tiny
country inside a big tile still succeeds quickly), and accepted when inside that rectangle and
inside or on the boundary of the country polygon. A site that fails `max_attempts` times raises
JitterExhaustedError (E613). Coastal tiles can hold a small sliver of the country (a tile whose centre
is on land may be 90% sea, an atoll's tile 95%), so after `refine_after_attempts` failures (default 8;
0 disables) a site stops using its mode's proposal and samples uniformly *inside* the polygon
country ∩ sampling rectangle: the part is triangulated once per (country, rectangle) (constrained
Delaunay), and each attempt picks a triangle with probability ∝ area (u_lon, by inverse CDF; the
position of u_lon inside the chosen triangle's CDF interval is reused) and a uniform point in it
(√-law with u_lat). Such a proposal is inside the country up to rounding, so a refined site is
accepted on its first refined attempt in practice and `max_attempts` = 64 is ample for atolls. The
accepted point of a refined site is uniform over tile ∩ country (component `refined_uniform`). If
the triangles do not cover the part (a degenerate clip), the site falls back to the bounding box of
the part. Tiles are expected not to cross the antimeridian after clipping to the country's bounding
box (the country polygons are in [−180, 180]).

population_anchored can adapt to the local site density (`local_density`; all off by default). Let
k be the number of sites in the same (country, tile) — the column `tile_sites` when the caller gives
it, else counted in `sites` (so a site regenerates alone only when `tile_sites` is given):
- place eligibility: a place of the tile whose expected number of sites k·pop_place/pop_tile is
  below `min_expected_sites` gets none (the tile's largest place always stays eligible); anchor and
  sparse_tail choose among the eligible places ∝ population. A tile with few sites keeps them in its
  main town(s) instead of scattering single outlets over its villages.
- radius scaling: with m = k·pop_place/pop_eligible the expected sites at the chosen place, scale_km
  and max_km are multiplied by clip((m / reference_sites)^radius_exponent, min_factor, max_factor).
  With exponent ½ a place's footprint grows with its outlet count, so the outlet density, and hence
  the nearest-neighbour spacing, is similar in small towns and big cities (up to the tile's size).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import shapely

from gatehouse.sites.kernels import rng

JITTER_MODES = ("uniform_v1", "mixture_v2", "population_anchored")
SITE_COLUMNS = ("merchant_id", "country_iso", "site_order", "tile_id", "min_lon", "max_lon", "min_lat", "max_lat")
KM_PER_DEGREE = math.radians(1.0) * 6371.0088  # great-circle km per degree of latitude

DEFAULT_POLICIES: dict[str, dict] = {
    "uniform_v1": {"mode": "uniform_v1", "namespace": "1B.S6.JITTER_V1", "max_attempts": 64,
                   "refine_after_attempts": 8},
    # reference policy 2026-02-13-r4 (§3 S6)
    "mixture_v2": {
        "mode": "mixture_v2", "namespace": "1B.S6.JITTER_V2", "max_attempts": 64, "refine_after_attempts": 8,
        "selection_blend": 0.5,
        "components": {
            "core": {"weight": 0.10, "exponent": 1.6, "max_abs_offset_fraction": 0.8},
            "secondary": {"weight": 0.20, "exponent": 1.0, "max_abs_offset_fraction": 1.0},
            "sparse_tail": {"weight": 0.70, "exponent": 0.55, "max_abs_offset_fraction": 1.0},
        },
    },
    "population_anchored": {
        "mode": "population_anchored", "namespace": "1B.S6.POP_ANCHOR_V1", "max_attempts": 64,
        "refine_after_attempts": 8,
        "components": {
            "anchor": {"weight": 0.60, "radius_law": "exponential", "scale_km": 0.15, "max_km": 0.5},
            "uniform": {"weight": 0.30},
            "sparse_tail": {"weight": 0.10, "radius_law": "exponential", "scale_km": 0.4, "max_km": 1.0},
        },
        # off by default: radius factor 1 and every place of a tile eligible
        "local_density": {"min_expected_sites": 0.0, "radius_exponent": 0.0, "reference_sites": 1.0,
                          "min_factor": 1.0, "max_factor": 1.0},
    },
}
_COMPONENTS = {
    "uniform_v1": ("uniform", "refined_uniform"),
    "mixture_v2": ("core", "secondary", "sparse_tail", "refined_uniform"),
    "population_anchored": ("anchor", "uniform", "sparse_tail", "fallback_uniform", "refined_uniform"),
}
_REFINED = {mode: np.int8(names.index("refined_uniform")) for mode, names in _COMPONENTS.items()}
# The fixed block budget of one attempt per mode: the single source for S6's RNG accounting.
BLOCKS_PER_ATTEMPT = {"uniform_v1": 1, "mixture_v2": 1, "population_anchored": 2}
_RADIUS_LAWS = ("exponential", "gaussian")


class JitterPolicyError(ValueError):
    """The jitter policy is malformed."""


class JitterInputError(ValueError):
    """Sites, geometries or places are malformed."""


class JitterExhaustedError(RuntimeError):
    """A site found no point inside its tile and country within max_attempts (reference E613)."""

    def __init__(self, merchant_id, country_iso, site_order, tile_id, attempts: int, n_failed: int, reason: str):
        self.merchant_id, self.country_iso = merchant_id, country_iso
        self.site_order, self.tile_id = site_order, tile_id
        self.attempts, self.n_failed = attempts, n_failed
        others = f" ({n_failed - 1} other site(s) failed too)" if n_failed > 1 else ""
        super().__init__(f"jitter exhausted for merchant_id={merchant_id} country_iso={country_iso} "
                         f"site_order={site_order} tile_id={tile_id} after {attempts} attempt(s): {reason}{others}")


# --------------------------------------------------------------------------------------------
# Policy
# --------------------------------------------------------------------------------------------

def default_policy(mode: str) -> dict:
    if mode not in DEFAULT_POLICIES:
        raise JitterPolicyError(f"unknown jitter mode {mode!r}; expected one of {JITTER_MODES}")
    return copy.deepcopy(DEFAULT_POLICIES[mode])


def validate_policy(policy: Mapping) -> dict:
    """Fill missing keys from the mode's defaults and check every value; returns a new dict."""
    if not isinstance(policy, Mapping) or "mode" not in policy:
        raise JitterPolicyError(f"policy must be a mapping with a 'mode' (one of {JITTER_MODES})")
    merged = default_policy(policy["mode"])
    _merge_known(merged, policy, path="policy")
    attempts = merged["max_attempts"]
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 1_000_000:
        raise JitterPolicyError(f"policy.max_attempts must be an integer in [1, 1e6], got {attempts!r}")
    refine = merged["refine_after_attempts"]
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise JitterPolicyError(f"policy.refine_after_attempts must be a non-negative integer, got {refine!r}")
    if not isinstance(merged["namespace"], str) or not merged["namespace"]:
        raise JitterPolicyError("policy.namespace must be a non-empty string")
    if "selection_blend" in merged:
        _check_range(merged["selection_blend"], 0.0, 1.0, "policy.selection_blend")
    components = merged.get("components", {})
    for name, params in components.items():
        where = f"policy.components.{name}"
        _check_range(params["weight"], 0.0, math.inf, f"{where}.weight")
        if "exponent" in params:
            _check_range(params["exponent"], 0.0, math.inf, f"{where}.exponent", low_open=True)
            _check_range(params["max_abs_offset_fraction"], 0.0, 1.0, f"{where}.max_abs_offset_fraction",
                         low_open=True)
        if "scale_km" in params:
            _check_range(params["scale_km"], 0.0, math.inf, f"{where}.scale_km", low_open=True)
            _check_range(params["max_km"], 0.0, math.inf, f"{where}.max_km", low_open=True)
            if params["radius_law"] not in _RADIUS_LAWS:
                raise JitterPolicyError(f"{where}.radius_law must be one of {_RADIUS_LAWS}")
    if components and sum(p["weight"] for p in components.values()) <= 0:
        raise JitterPolicyError("policy.components weights must have a positive sum")
    if "local_density" in merged:
        density, where = merged["local_density"], "policy.local_density"
        _check_range(density["min_expected_sites"], 0.0, math.inf, f"{where}.min_expected_sites")
        _check_range(density["radius_exponent"], 0.0, 2.0, f"{where}.radius_exponent")
        _check_range(density["reference_sites"], 0.0, math.inf, f"{where}.reference_sites", low_open=True)
        _check_range(density["min_factor"], 0.0, math.inf, f"{where}.min_factor", low_open=True)
        _check_range(density["max_factor"], density["min_factor"], math.inf, f"{where}.max_factor")
    return merged


def _merge_known(target: dict, source: Mapping, path: str) -> None:
    for key, value in source.items():
        if key not in target:
            raise JitterPolicyError(f"unknown key {path}.{key}; allowed: {sorted(target)}")
        if isinstance(target[key], dict):
            if not isinstance(value, Mapping):
                raise JitterPolicyError(f"{path}.{key} must be a mapping")
            _merge_known(target[key], value, f"{path}.{key}")
        else:
            target[key] = value


def _check_range(value, low, high, name, low_open=False):
    bad_type = isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
    if bad_type or value < low or value > high or (low_open and value == low):
        bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise JitterPolicyError(f"{name} must be a number in {bound}, got {value!r}")


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

def jitter_sites(sites: pd.DataFrame, country_geoms: Mapping, places: pd.DataFrame | None, policy: Mapping,
                 seed: int, manifest_fingerprint: str) -> pd.DataFrame:
    """sites[merchant_id, country_iso, site_order, tile_id, min_lon, max_lon, min_lat, max_lat] →
    the same rows plus lon_deg, lat_deg, attempts (≥ 1) and component (categorical).

    country_geoms: {country_iso: shapely geometry} (prepared here, in place).
    places (population_anchored only): [tile_id, lon, lat, pop] and optionally country_iso;
    a place belongs to the tile(s) with that tile_id (and country, when given).
    """
    policy = validate_policy(policy)
    mode = policy["mode"]
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise JitterInputError(f"sites is missing columns {missing}")
    iso_code, isos = pd.factorize(sites["country_iso"])
    geoms = _prepared_geometries(country_geoms, isos)
    rect = _sampling_rectangles(sites, geoms, iso_code)
    _raise_if_no_overlap(sites, rect)

    sampler = _make_sampler(mode, policy, rect, sites, places)
    blocks = BLOCKS_PER_ATTEMPT[mode]
    key, ctr_hi, ctr_lo = rng.substreams(seed, manifest_fingerprint, f"in_cell_jitter:{policy['namespace']}",
                                         sites["merchant_id"].to_numpy(), sites["country_iso"].to_numpy(),
                                         sites["site_order"].to_numpy())
    n = len(sites)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    attempts = np.zeros(n, dtype=np.int64)
    component = np.full(n, -1, dtype=np.int8)
    pending = np.arange(n)
    parts = None
    for attempt in range(policy["max_attempts"]):
        if pending.size == 0:
            break
        if attempt and attempt == policy["refine_after_attempts"]:
            parts = _CountryParts(rect, pending, geoms, iso_code)
        u = rng.draw_uniforms(key[pending], ctr_hi[pending], ctr_lo[pending], blocks,
                              first_block=attempt * blocks).reshape(len(pending), 2 * blocks)
        p_lon, p_lat, p_comp = sampler(pending, u)
        if parts is not None:
            refined = parts.covers(pending)
            if refined.any():
                rows = pending[refined]
                p_lon[refined], p_lat[refined] = parts.sample(rows, u[refined, 0], u[refined, 1], rect)
                p_comp[refined] = _REFINED[mode]
        ok = _inside_rectangle(rect, pending, p_lon, p_lat) & _inside_countries(geoms, iso_code[pending],
                                                                                p_lon, p_lat)
        done = pending[ok]
        lon[done], lat[done], component[done] = p_lon[ok], p_lat[ok], p_comp[ok]
        attempts[done] = attempt + 1
        pending = pending[~ok]
    if pending.size:
        _raise_exhausted(sites, pending, policy["max_attempts"],
                         "no proposed point fell inside both the tile and the country polygon")

    out = sites.copy()
    out["lon_deg"], out["lat_deg"], out["attempts"] = lon, lat, attempts
    out["component"] = pd.Categorical.from_codes(component, categories=list(_COMPONENTS[mode]))
    return out


# --------------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------------

def _prepared_geometries(country_geoms: Mapping, isos) -> list:
    absent = [iso for iso in isos if iso not in country_geoms]
    if absent:
        raise JitterInputError(f"no country geometry for {absent[:10]}")
    geoms = [country_geoms[iso] for iso in isos]
    for geom in geoms:
        if geom is None or geom.is_empty:
            raise JitterInputError("country geometries must be non-empty")
        shapely.prepare(geom)
    return geoms


def _sampling_rectangles(sites: pd.DataFrame, geoms: list, iso_code: np.ndarray) -> np.ndarray:
    """(n, 4) array [x0, x1, y0, y1] = tile rectangle ∩ country bounding box."""
    bounds = np.array([g.bounds for g in geoms], dtype=np.float64).reshape(-1, 4)[iso_code]  # minx miny maxx maxy
    tile = sites[["min_lon", "max_lon", "min_lat", "max_lat"]].to_numpy(dtype=np.float64)
    return np.column_stack([np.maximum(tile[:, 0], bounds[:, 0]), np.minimum(tile[:, 1], bounds[:, 2]),
                            np.maximum(tile[:, 2], bounds[:, 1]), np.minimum(tile[:, 3], bounds[:, 3])])


class _CountryParts:
    """Triangles of country ∩ sampling rectangle for the sites that still fail after
    refine_after_attempts, one group per (country, rectangle). A site's draw uses only its own
    group's triangles, so it does not depend on which other sites are pending and a site regenerates
    alone. A group whose triangles do not cover its part (a degenerate clip) gets none: its sites'
    rectangle shrinks to the part's bounding box instead."""

    def __init__(self, rect: np.ndarray, rows: np.ndarray, geoms: list, iso_code: np.ndarray):
        self.group = np.full(len(rect), -1, dtype=np.int64)
        self.corners: list[np.ndarray] = []   # per group: [t, 3, 2]
        self.cum_area: list[np.ndarray] = []  # per group: inclusive cumulative triangle areas
        frame = pd.DataFrame(rect[rows], columns=["x0", "x1", "y0", "y1"]).assign(code=iso_code[rows])
        for (x0, x1, y0, y1, code), group in frame.groupby(["x0", "x1", "y0", "y1", "code"], sort=True).groups.items():
            members = rows[np.asarray(group)]
            part = _polygonal(shapely.clip_by_rect(geoms[code], x0, y0, x1, y1))
            if part is None:
                continue  # the site can only touch the country's boundary; leave it to exhaust
            triangles = _triangles(part)
            if triangles is None:
                px0, py0, px1, py1 = part.bounds
                rect[members] = (max(px0, x0), min(px1, x1), max(py0, y0), min(py1, y1))
                continue
            self.group[members] = len(self.corners)
            self.corners.append(triangles[0])
            self.cum_area.append(np.cumsum(triangles[1]))

    def covers(self, rows: np.ndarray) -> np.ndarray:
        return self.group[rows] >= 0

    def sample(self, rows: np.ndarray, u_tri: np.ndarray, u_pos: np.ndarray, rect: np.ndarray):
        """A uniform point of each row's part: the triangle ∝ area by inverse CDF of u_tri; where u_tri
        falls inside that triangle's CDF interval is a fresh uniform v; then the point is
        A + √v·((1−w)(B−A) + w(C−A)) with w = u_pos. Clipped to the rectangle (so a rounding step past
        its edge is not a rejection)."""
        lon, lat = np.empty(len(rows)), np.empty(len(rows))
        groups = self.group[rows]
        for g in np.unique(groups):
            sel = groups == g
            cum, corners = self.cum_area[g], self.corners[g]
            target = u_tri[sel] * cum[-1]
            tri = np.minimum(np.searchsorted(cum, target, side="right"), len(cum) - 1)
            low = np.where(tri > 0, cum[np.maximum(tri - 1, 0)], 0.0)
            v = np.clip((target - low) / (cum[tri] - low), 0.0, 1.0)
            a, b, c = corners[tri, 0], corners[tri, 1], corners[tri, 2]
            s, w = np.sqrt(v)[:, None], u_pos[sel][:, None]
            point = a + s * ((1.0 - w) * (b - a) + w * (c - a))
            lon[sel], lat[sel] = point[:, 0], point[:, 1]
        r = rect[rows]
        return np.clip(lon, r[:, 0], r[:, 1]), np.clip(lat, r[:, 2], r[:, 3])


def _polygonal(geom):
    """The areal part of a clip result (valid), or None when it has no area."""
    if geom.is_empty:
        return None
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    polygons = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon") and g.area > 0]
    if not polygons:
        return None
    return shapely.union_all(polygons) if len(polygons) > 1 else polygons[0]


def _triangles(part):
    """(corners[t, 3, 2], areas[t]) of a constrained Delaunay triangulation of the polygon(s), or None
    when the triangles' total area differs from the part's by more than 1e-9 relative."""
    triangles = shapely.get_parts(shapely.constrained_delaunay_triangles(part))
    if len(triangles) == 0:
        return None
    corners = np.stack([shapely.get_coordinates(t)[:3] for t in triangles])
    a, b, c = corners[:, 0], corners[:, 1], corners[:, 2]
    areas = 0.5 * np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1]))
    keep = areas > 0
    if not keep.any() or abs(areas.sum() - part.area) > 1e-9 * part.area:
        return None
    return corners[keep], areas[keep]


def _raise_if_no_overlap(sites, rect):
    empty = np.flatnonzero((rect[:, 0] > rect[:, 1]) | (rect[:, 2] > rect[:, 3]))
    if empty.size:
        _raise_exhausted(sites, empty, 0, "the tile rectangle does not overlap the country's bounding box")


def _raise_exhausted(sites, failed: np.ndarray, attempts: int, reason: str):
    first = sites.iloc[failed].sort_values(["merchant_id", "country_iso", "site_order"]).iloc[0]
    raise JitterExhaustedError(first["merchant_id"], first["country_iso"], first["site_order"], first["tile_id"],
                               attempts, len(failed), reason)


def _inside_rectangle(rect, rows, lon, lat) -> np.ndarray:
    r = rect[rows]
    return (lon >= r[:, 0]) & (lon <= r[:, 1]) & (lat >= r[:, 2]) & (lat <= r[:, 3])


def _inside_countries(geoms: list, codes: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Inside or on the boundary of each point's country; one vectorised call per country."""
    inside = np.zeros(len(codes), dtype=bool)
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.concatenate([[True], codes[order][1:] != codes[order][:-1]])) if len(codes) else []
    for start, stop in zip(starts, list(starts[1:]) + [len(codes)]):
        rows = order[start:stop]
        inside[rows] = shapely.intersects_xy(geoms[codes[rows[0]]], lon[rows], lat[rows])
    return inside


# --------------------------------------------------------------------------------------------
# Proposal samplers: (rows, u[len(rows), 2·B]) → (lon, lat, component code)
# --------------------------------------------------------------------------------------------

def _make_sampler(mode, policy, rect, sites, places):
    if mode == "uniform_v1":
        return lambda rows, u: (*_uniform_in(rect[rows], u[:, 0], u[:, 1]), np.zeros(len(rows), dtype=np.int8))
    if mode == "mixture_v2":
        return _MixtureSampler(policy, rect)
    return _AnchoredSampler(policy, rect, sites, places)


def _uniform_in(r: np.ndarray, u_lon, u_lat):
    return r[:, 0] + u_lon * (r[:, 1] - r[:, 0]), r[:, 2] + u_lat * (r[:, 3] - r[:, 2])


def _normalised_weights(components: dict, names) -> np.ndarray:
    weights = np.array([components[name]["weight"] for name in names], dtype=np.float64)
    return weights / weights.sum()


class _MixtureSampler:
    """mixture_v2 (§3 S6): component from s = (1−b)·u_lon + b·u_lat against cumulative weights; per
    axis frac = clip01(0.5 + 0.5·sign(c)·|c|^e·m) with c = 2u − 1."""

    def __init__(self, policy: dict, rect: np.ndarray):
        names = ("core", "secondary", "sparse_tail")
        comps = policy["components"]
        self.rect, self.blend = rect, policy["selection_blend"]
        self.thresholds = np.cumsum(_normalised_weights(comps, names))[:-1]
        self.exponent = np.array([comps[n]["exponent"] for n in names])
        self.max_offset = np.array([comps[n]["max_abs_offset_fraction"] for n in names])

    def __call__(self, rows, u):
        u_lon, u_lat = u[:, 0], u[:, 1]
        selector = (1.0 - self.blend) * u_lon + self.blend * u_lat
        comp = np.searchsorted(self.thresholds, selector, side="right").astype(np.int8)
        e, m = self.exponent[comp], self.max_offset[comp]
        frac_lon, frac_lat = (np.clip(0.5 + 0.5 * np.sign(c) * np.abs(c) ** e * m, 0.0, 1.0)
                              for c in (2.0 * u_lon - 1.0, 2.0 * u_lat - 1.0))
        lon, lat = _uniform_in(self.rect[rows], frac_lon, frac_lat)
        return lon, lat, comp


class _AnchoredSampler:
    """population_anchored: with the policy weights pick anchor / uniform / sparse_tail (independently
    of position). anchor and sparse_tail choose a place of the tile ∝ population and offset it by a
    bounded radius (km) at a uniform angle, the radius scaled by the density factor (module
    docstring); uniform is uniform in the rectangle. Tiles without places always use the uniform
    rectangle (component fallback_uniform)."""

    ANCHOR, UNIFORM, SPARSE, FALLBACK = 0, 1, 2, 3

    def __init__(self, policy: dict, rect: np.ndarray, sites: pd.DataFrame, places: pd.DataFrame | None):
        comps = policy["components"]
        self.rect = rect
        self.thresholds = np.cumsum(_normalised_weights(comps, ("anchor", "uniform", "sparse_tail")))[:-1]
        self.radius = {self.ANCHOR: comps["anchor"], self.SPARSE: comps["sparse_tail"]}
        self.places = _PlaceIndex(sites, places)
        self.density = policy["local_density"]
        adaptive = self.density["radius_exponent"] > 0 or self.density["min_expected_sites"] > 0
        self.tile_sites = _tile_site_counts(sites) if adaptive else None

    def __call__(self, rows, u):
        u_lon, u_lat, u_select, u_place = u[:, 0], u[:, 1], u[:, 2], u[:, 3]
        comp = np.searchsorted(self.thresholds, u_select, side="right").astype(np.int8)
        comp[~self.places.has_places[rows]] = self.FALLBACK
        lon, lat = _uniform_in(self.rect[rows], u_lon, u_lat)
        for code, params in self.radius.items():
            sel = comp == code
            if sel.any():
                k = None if self.tile_sites is None else self.tile_sites[rows[sel]]
                place, share = self.places.choose(rows[sel], u_place[sel], k, self.density["min_expected_sites"])
                r_km = _bounded_radius_km(u_lon[sel], params) * self._radius_factor(k, share)
                angle = 2.0 * math.pi * u_lat[sel]
                lat[sel] = self.places.lat[place] + r_km * np.cos(angle) / KM_PER_DEGREE
                cos_lat = np.maximum(np.cos(np.radians(self.places.lat[place])), 1e-6)
                lon[sel] = self.places.lon[place] + r_km * np.sin(angle) / (KM_PER_DEGREE * cos_lat)
        return lon, lat, comp

    def _radius_factor(self, k, share):
        """clip((m / reference_sites)^radius_exponent, min_factor, max_factor), m = k·share the
        expected sites at the chosen place; 1 when the exponent is 0."""
        d = self.density
        if d["radius_exponent"] == 0:
            return 1.0
        return np.clip((k * share / d["reference_sites"]) ** d["radius_exponent"], d["min_factor"], d["max_factor"])


def _tile_site_counts(sites: pd.DataFrame) -> np.ndarray:
    """Sites per (country, tile): the column `tile_sites` when given, else counted in `sites`."""
    if "tile_sites" in sites.columns:
        counts = sites["tile_sites"].to_numpy(dtype=np.float64)
        if not (np.isfinite(counts).all() and (counts >= 1).all()):
            raise JitterInputError("sites.tile_sites must be finite and >= 1")
        return counts
    return sites.groupby(["country_iso", "tile_id"], sort=False)["tile_id"].transform("size").to_numpy(np.float64)


def _bounded_radius_km(u: np.ndarray, params: dict) -> np.ndarray:
    """Inverse CDF of the radius law truncated at max_km: exponential(scale) or the 2-D gaussian
    (Rayleigh) radius with sigma = scale."""
    scale, cap = params["scale_km"], params["max_km"]
    if params["radius_law"] == "exponential":
        return -scale * np.log1p(-u * -np.expm1(-cap / scale))
    return scale * np.sqrt(-2.0 * np.log1p(-u * -np.expm1(-cap**2 / (2.0 * scale**2))))


class _PlaceIndex:
    """Places grouped by tile (and country when given), with per-tile cumulative population."""

    def __init__(self, sites: pd.DataFrame, places: pd.DataFrame | None):
        n = len(sites)
        self.has_places = np.zeros(n, dtype=bool)
        self.lon = self.lat = np.empty(0)
        if places is None or len(places) == 0:
            return
        missing = [c for c in ("tile_id", "lon", "lat", "pop") if c not in places.columns]
        if missing:
            raise JitterInputError(f"places is missing columns {missing}")
        places = places[places["pop"] > 0]
        by_country = "country_iso" in places.columns
        place_key, site_key = self._keys(places, sites, by_country)
        pop = places["pop"].to_numpy(dtype=np.float64)
        order = np.lexsort((-pop, place_key))  # by tile, largest place first (stable)
        place_key, pop = place_key[order], pop[order]
        self.lon = places["lon"].to_numpy(dtype=np.float64)[order]
        self.lat = places["lat"].to_numpy(dtype=np.float64)[order]
        self.cum_pop = np.cumsum(pop)
        self.first = np.searchsorted(place_key, site_key, side="left")
        self.stop = np.searchsorted(place_key, site_key, side="right")
        self.has_places = self.stop > self.first
        # rank[j] = (index of j's tile group) + (1 − pop_j / pop_tile): ascending, so the places of a
        # tile with a share ≥ x are those with rank ≤ group + 1 − x
        group = np.concatenate([[0], np.cumsum(place_key[1:] != place_key[:-1])]) if len(pop) else np.empty(0, int)
        group_pop = np.bincount(group, weights=pop) if len(pop) else np.empty(0)
        self.rank = group + (1.0 - pop / group_pop[group]) if len(pop) else np.empty(0)
        self.group = group

    @staticmethod
    def _keys(places, sites, by_country):
        tile_p = places["tile_id"].to_numpy(dtype=np.int64)
        tile_s = sites["tile_id"].to_numpy(dtype=np.int64)
        if not by_country:
            return tile_p, tile_s
        codes, _ = pd.factorize(pd.concat([places["country_iso"], sites["country_iso"]], ignore_index=True))
        n_codes = int(codes.max()) + 1
        return tile_p * n_codes + codes[: len(places)], tile_s * n_codes + codes[len(places):]

    def choose(self, rows: np.ndarray, u: np.ndarray, k=None, min_expected_sites: float = 0.0):
        """(index, share) of a place of each row's tile, chosen with probability ∝ population among
        the eligible places (expected sites k·pop/pop_tile ≥ min_expected_sites, the largest always);
        share = the place's population over the eligible population."""
        first, stop = self.first[rows], self.stop[rows]
        if k is not None and min_expected_sites > 0:
            limit = self.group[first] + (1.0 - min_expected_sites / k)
            stop = np.clip(np.searchsorted(self.rank, limit, side="right"), first + 1, stop)
        before = np.where(first > 0, self.cum_pop[np.maximum(first - 1, 0)], 0.0)
        eligible = self.cum_pop[stop - 1] - before
        target = before + u * eligible
        found = np.clip(np.searchsorted(self.cum_pop, target, side="right"), first, stop - 1)
        own = self.cum_pop[found] - np.where(found > 0, self.cum_pop[np.maximum(found - 1, 0)], 0.0)
        return found, own / eligible
