"""Surrogate Segment 1A outlet catalogue: which merchants have how many outlets in which legal countries.

The catalogue fixes the per-country site mass that Segment 1B later places on the map, so the
country concentration and coverage gates of 1B are decided here. Everything is driven by a
versioned policy (``policies/sites/outlets_1a.yaml``) and a seed; the countries frame (and an
optional per-country southern-hemisphere share) are passed in, so tests can use tiny inputs.

Generation, in order (one PCG64 stream, draws in a fixed order, so a seed replays byte-identically):

1. home-country shares: blend of population^alpha, GDP^beta and uniform, tilted towards southern
   countries, lifted to per-macro-region floors and capped per country;
2. one home country per merchant, drawn from those shares;
3. outlets per merchant: a single-site hurdle, otherwise ``min + NB(mean, phi_m)`` with a
   per-merchant dispersion ``phi_m`` (log-normal around a median);
4. multi-country merchants: a size-dependent chance of operating in foreign legal countries,
   chosen without replacement by a gravity rule (size^gamma / distance^delta), with the merchant's
   outlets split between home and foreign legal countries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import yaml

from gatehouse.project import project_path
from gatehouse.sites.inputs.catalogue import CATALOGUE_COLUMNS


def policy_dir() -> Path:
    return project_path("policies", "sites")


def default_policy_path() -> Path:
    return policy_dir() / "outlets_1a.yaml"


def origin_like_policy_path() -> Path:
    return policy_dir() / "outlets_1a_origin_like.yaml"


MACRO_REGIONS = ("Africa", "Asia", "Europe", "North America", "South America", "Oceania", "Other")
EARTH_RADIUS_KM = 6371.0088


class PolicyError(ValueError):
    """The outlet policy is missing a key or has a value out of range; the message names the key."""


# --------------------------------------------------------------------------------------------
# Policy loading and validation
# --------------------------------------------------------------------------------------------

# key path -> (kind, lower, upper); bounds are inclusive, None means unbounded.
_NUMERIC_KEYS: dict[str, tuple[str, float | None, float | None]] = {
    "merchants.count": ("int", 1, None),
    "home_country_mix.blend.population": ("float", 0.0, 1.0),
    "home_country_mix.blend.gdp": ("float", 0.0, 1.0),
    "home_country_mix.blend.uniform": ("float", 0.0, 1.0),
    "home_country_mix.population_exponent": ("float", 0.0, 3.0),
    "home_country_mix.gdp_exponent": ("float", 0.0, 3.0),
    "home_country_mix.southern_boost": ("float", 0.0, None),
    "home_country_mix.country_cap_share": ("float", 0.0, 1.0),
    "home_country_mix.min_country_population": ("int", 0, None),
    "outlets_per_merchant.single_site_share": ("float", 0.0, 1.0),
    "outlets_per_merchant.multi_site_min_outlets": ("int", 2, None),
    "outlets_per_merchant.nb_mean_above_min": ("float", 0.0, None),
    "outlets_per_merchant.nb_dispersion_median": ("float", 1e-6, None),
    "outlets_per_merchant.nb_dispersion_log_sd": ("float", 0.0, 2.0),
    "multi_country.share_of_merchants": ("float", 0.0, 1.0),
    "multi_country.size_elasticity": ("float", 0.0, None),
    "multi_country.extra_foreign_countries_mean": ("float", 0.0, None),
    "multi_country.max_foreign_countries": ("int", 1, None),
    "multi_country.gravity.size_exponent": ("float", 0.0, None),
    "multi_country.gravity.distance_exponent": ("float", 0.0, None),
    "multi_country.gravity.distance_floor_km": ("float", 1e-6, None),
    "multi_country.home_outlet_fraction.alpha": ("float", 1e-6, None),
    "multi_country.home_outlet_fraction.beta": ("float", 1e-6, None),
}


def load_outlet_policy(path: str | Path | None = None) -> dict:
    """Read and validate an outlet policy YAML file (default: the shipped surrogate policy)."""
    with open(path or default_policy_path(), encoding="utf-8") as handle:
        policy = yaml.safe_load(handle)
    return validate_outlet_policy(policy)


def validate_outlet_policy(policy: Any) -> dict:
    """Return the policy unchanged if it is well formed; raise PolicyError naming the bad key."""
    if not isinstance(policy, Mapping):
        raise PolicyError("policy: expected a mapping at the top level")
    version = policy.get("policy_version")
    if not isinstance(version, str) or not version.strip():
        raise PolicyError("policy_version: required non-empty string")
    for key, (kind, lower, upper) in _NUMERIC_KEYS.items():
        _check_number(key, _lookup(policy, key), kind, lower, upper)

    mix = policy["home_country_mix"]
    blend_total = sum(float(mix["blend"][part]) for part in ("population", "gdp", "uniform"))
    if abs(blend_total - 1.0) > 1e-9:
        raise PolicyError(f"home_country_mix.blend: population + gdp + uniform must sum to 1, got {blend_total}")
    floors = mix.get("region_floors") or {}
    if not isinstance(floors, Mapping):
        raise PolicyError("home_country_mix.region_floors: expected a mapping of macro region -> share")
    for region, floor in floors.items():
        if region not in MACRO_REGIONS:
            raise PolicyError(f"home_country_mix.region_floors.{region}: unknown macro region (use {MACRO_REGIONS})")
        _check_number(f"home_country_mix.region_floors.{region}", floor, "float", 0.0, 1.0)
    if sum(float(v) for v in floors.values()) > 1.0:
        raise PolicyError("home_country_mix.region_floors: floors sum to more than 1")
    excluded = mix.get("excluded_countries") or []
    if not isinstance(excluded, list) or not all(isinstance(c, str) for c in excluded):
        raise PolicyError("home_country_mix.excluded_countries: expected a list of ISO2 codes")

    single = float(policy["outlets_per_merchant"]["single_site_share"])
    multi_country = float(policy["multi_country"]["share_of_merchants"])
    if multi_country > 1.0 - single:
        raise PolicyError(
            "multi_country.share_of_merchants: cannot exceed the multi-site share "
            f"1 - outlets_per_merchant.single_site_share = {1.0 - single:.4f}"
        )
    return dict(policy)


def _lookup(policy: Mapping, dotted_key: str) -> Any:
    node: Any = policy
    for part in dotted_key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise PolicyError(f"{dotted_key}: required key is missing")
        node = node[part]
    return node


def _check_number(key: str, value: Any, kind: str, lower: float | None, upper: float | None) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PolicyError(f"{key}: expected a number, got {value!r}")
    if kind == "int" and int(value) != value:
        raise PolicyError(f"{key}: expected an integer, got {value!r}")
    if not np.isfinite(value):
        raise PolicyError(f"{key}: must be finite, got {value!r}")
    if lower is not None and value < lower:
        raise PolicyError(f"{key}: must be >= {lower}, got {value!r}")
    if upper is not None and value > upper:
        raise PolicyError(f"{key}: must be <= {upper}, got {value!r}")


# --------------------------------------------------------------------------------------------
# Southern-hemisphere share per country
# --------------------------------------------------------------------------------------------

def southern_population_share(places: pd.DataFrame, countries: pd.DataFrame | None = None) -> pd.Series:
    """Population-weighted share of each country's places with lat_deg < 0, indexed by country_iso.

    If ``countries`` is given the result covers exactly its countries; a country without any
    populated place falls back to the hemisphere of its representative point (1.0 or 0.0).
    """
    population = places["population"].clip(lower=0).astype(float)
    southern_population = population.where(places["lat_deg"] < 0, 0.0)
    grouped = pd.DataFrame(
        {"country_iso": places["country_iso"], "total": population, "southern": southern_population}
    ).groupby("country_iso")[["total", "southern"]].sum()
    grouped = grouped[grouped["total"] > 0]
    share = (grouped["southern"] / grouped["total"]).rename("southern_share")
    if countries is None:
        return share.sort_index()
    fallback = representative_point_southern_share(countries)
    return share.reindex(fallback.index).fillna(fallback).rename("southern_share")


def representative_point_southern_share(countries: pd.DataFrame) -> pd.Series:
    """1.0 for countries whose representative point lies south of the equator, else 0.0."""
    latitudes = [geometry.representative_point().y for geometry in countries["geometry"]]
    return pd.Series(
        (np.asarray(latitudes) < 0).astype(float), index=pd.Index(countries["country_iso"], name="country_iso"),
        name="southern_share",
    )


# --------------------------------------------------------------------------------------------
# Home-country shares
# --------------------------------------------------------------------------------------------

def home_country_shares(
    countries: pd.DataFrame, policy: Mapping, southern_share: pd.Series | None = None
) -> pd.Series:
    """Share of merchants homed in each country (indexed by country_iso, sums to 1)."""
    mix = policy["home_country_mix"]
    iso = countries["country_iso"].to_numpy()
    allowed = ~np.isin(iso, list(mix.get("excluded_countries") or [])) & populated(countries, policy)
    if not allowed.any():
        raise ValueError("home_country_mix: excluded_countries and min_country_population exclude every country")

    blend = mix["blend"]
    base = (
        float(blend["population"]) * _power_share(countries["population"], mix["population_exponent"], allowed)
        + float(blend["gdp"]) * _power_share(countries["gdp_md"], mix["gdp_exponent"], allowed)
        + float(blend["uniform"]) * allowed / allowed.sum()
    )
    southern = _aligned_southern_share(countries, southern_share)
    shares = _normalise(base * (1.0 + float(mix["southern_boost"]) * southern))
    shares = _apply_region_floors(shares, countries["macro_region"].to_numpy(), mix.get("region_floors") or {})
    shares = _cap_shares(shares, float(mix["country_cap_share"]))
    return pd.Series(shares, index=pd.Index(iso, name="country_iso"), name="home_share")


def populated(countries: pd.DataFrame, policy: Mapping) -> np.ndarray:
    """Countries with at least min_country_population inhabitants (GeoNames `population` column)."""
    minimum = int(policy["home_country_mix"]["min_country_population"])
    return countries["population"].to_numpy(dtype=np.float64) >= minimum


def _power_share(values: pd.Series, exponent: float, allowed: np.ndarray) -> np.ndarray:
    """values^exponent normalised over allowed countries; missing or non-positive values count as 0."""
    clean = pd.to_numeric(values, errors="coerce").fillna(0.0).clip(lower=0.0).to_numpy(dtype=float)
    powered = np.where((clean > 0) & allowed, clean ** float(exponent), 0.0)
    total = powered.sum()
    return powered / total if total > 0 else allowed / allowed.sum()


def _aligned_southern_share(countries: pd.DataFrame, southern_share: pd.Series | None) -> np.ndarray:
    if southern_share is None:
        southern_share = representative_point_southern_share(countries)
    aligned = southern_share.reindex(countries["country_iso"]).fillna(0.0).clip(0.0, 1.0)
    return aligned.to_numpy(dtype=float)


def _normalise(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def _apply_region_floors(shares: np.ndarray, regions: np.ndarray, floors: Mapping[str, float]) -> np.ndarray:
    """Lift each macro region to its floor, taking the deficit proportionally from all other countries.

    Regions are visited in MACRO_REGIONS order; a region with no (non-zero) countries is skipped.
    """
    shares = shares.copy()
    for region in MACRO_REGIONS:
        floor = float(floors.get(region, 0.0))
        inside = (regions == region) & (shares > 0)
        current = shares[inside].sum()
        if floor <= 0 or not inside.any() or current >= floor:
            continue
        shares[inside] *= floor / current
        shares[~inside] *= (1.0 - floor) / (1.0 - current)
    return shares


def _cap_shares(shares: np.ndarray, cap: float, max_rounds: int = 100) -> np.ndarray:
    """Clip shares at ``cap`` and hand the excess to uncapped countries in proportion to their shares."""
    shares = shares.copy()
    positive = (shares > 0).sum()
    if cap * positive < 1.0:
        raise ValueError(
            f"home_country_mix.country_cap_share = {cap} is infeasible for {positive} countries with non-zero share"
        )
    for _ in range(max_rounds):
        over = shares > cap + 1e-15
        if not over.any():
            break
        excess = (shares[over] - cap).sum()
        shares[over] = cap
        receivers = (shares < cap) & (shares > 0)
        shares[receivers] += excess * shares[receivers] / shares[receivers].sum()
    return shares


# --------------------------------------------------------------------------------------------
# Gravity between countries
# --------------------------------------------------------------------------------------------

def representative_points(countries: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(lon_deg, lat_deg) arrays of each country's ``geometry.representative_point()``."""
    points = [geometry.representative_point() for geometry in countries["geometry"]]
    return np.array([p.x for p in points]), np.array([p.y for p in points])


def great_circle_km(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    """Pairwise haversine distance matrix in kilometres."""
    lon, lat = np.radians(lon_deg), np.radians(lat_deg)
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def gravity_matrix(size: np.ndarray, distance_km: np.ndarray, gravity: Mapping) -> np.ndarray:
    """Row-normalised attraction of destination j for home i: size_j^gamma / (d_ij + d0)^delta, j != i.

    The distance floor d0 keeps neighbours with nearly coincident representative points finite.
    """
    positive = size > 0
    attraction = np.zeros(len(size))
    attraction[positive] = size[positive] ** float(gravity["size_exponent"])
    damping = (distance_km + float(gravity["distance_floor_km"])) ** float(gravity["distance_exponent"])
    weights = attraction[None, :] / damping
    np.fill_diagonal(weights, 0.0)
    row_totals = weights.sum(axis=1, keepdims=True)
    return np.divide(weights, row_totals, out=np.zeros_like(weights), where=row_totals > 0)


# --------------------------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutletSimulation:
    """The catalogue plus a per-merchant companion frame (``merchant_id, home_country_iso,
    n_outlets, n_legal_countries, phi``) that carries the NB dispersion the metrics need."""

    catalogue: pd.DataFrame
    merchants: pd.DataFrame
    home_shares: pd.Series


def generate_outlet_catalogue(
    countries: pd.DataFrame, policy: Mapping, seed: int, southern_share: pd.Series | None = None
) -> pd.DataFrame:
    """Outlet catalogue ``merchant_id, home_country_iso, legal_country_iso, site_order``.

    Sorted by (merchant_id, legal_country_iso, site_order); site_order runs 1..n per
    (merchant, legal country). Deterministic for (countries, policy, seed, southern_share).
    """
    return simulate_outlets(countries, policy, seed, southern_share).catalogue


def generate_origin_like_catalogue(
    countries: pd.DataFrame, seed: int, southern_share: pd.Series | None = None
) -> pd.DataFrame:
    """A Europe-centric catalogue resembling the origin project's 1A output (~31k sites in ~77 countries)."""
    return generate_outlet_catalogue(countries, load_outlet_policy(origin_like_policy_path()), seed, southern_share)


def simulate_outlets(
    countries: pd.DataFrame, policy: Mapping, seed: int, southern_share: pd.Series | None = None
) -> OutletSimulation:
    """Generate the catalogue and its per-merchant companion frame."""
    policy = validate_outlet_policy(policy)
    countries = countries.sort_values("country_iso").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    n_merchants = int(policy["merchants"]["count"])

    shares = home_country_shares(countries, policy, southern_share)
    home_index = rng.choice(len(countries), size=n_merchants, p=shares.to_numpy())
    phi, n_outlets = _draw_outlet_counts(rng, n_merchants, policy["outlets_per_merchant"])
    n_foreign = _draw_foreign_country_counts(rng, n_outlets, policy["multi_country"])

    gravity = gravity_matrix(
        shares.to_numpy(), great_circle_km(*representative_points(countries)), policy["multi_country"]["gravity"]
    )
    legal_index, legal_outlets = _allocate_legal_countries(
        rng, home_index, n_outlets, n_foreign, gravity, policy["multi_country"]["home_outlet_fraction"]
    )

    iso = countries["country_iso"].to_numpy()
    merchant_ids = np.arange(1, n_merchants + 1, dtype=np.int64)
    catalogue = _expand_sites(merchant_ids, iso[home_index], legal_index, legal_outlets, iso)
    merchants = pd.DataFrame(
        {
            "merchant_id": merchant_ids,
            "home_country_iso": iso[home_index],
            "n_outlets": n_outlets.astype(np.int64),
            "n_legal_countries": np.array([len(c) for c in legal_index], dtype=np.int64),
            "phi": phi,
        }
    )
    return OutletSimulation(catalogue=catalogue, merchants=merchants, home_shares=shares)


def _draw_outlet_counts(rng: np.random.Generator, n_merchants: int, rule: Mapping) -> tuple[np.ndarray, np.ndarray]:
    """Per-merchant NB dispersion phi and outlet count (1 for single-site merchants).

    Every merchant gets a phi and an NB draw, even single-site ones, so the random stream does not
    depend on the hurdle outcome. NB(mean m, dispersion phi) is numpy's negative_binomial(phi, phi/(phi+m)).
    """
    phi = float(rule["nb_dispersion_median"]) * np.exp(
        rng.normal(0.0, float(rule["nb_dispersion_log_sd"]), n_merchants)
    )
    is_single = rng.random(n_merchants) < float(rule["single_site_share"])
    extra = rng.negative_binomial(phi, phi / (phi + float(rule["nb_mean_above_min"])))
    n_outlets = np.where(is_single, 1, int(rule["multi_site_min_outlets"]) + extra).astype(np.int64)
    return phi, n_outlets


def _draw_foreign_country_counts(rng: np.random.Generator, n_outlets: np.ndarray, rule: Mapping) -> np.ndarray:
    """Number of foreign legal countries per merchant (0 for single-country merchants).

    P(multi-country) = sigmoid(a + b*log(n_outlets)) for multi-site merchants, with a solved so the
    expected share over all merchants equals ``share_of_merchants``; b = ``size_elasticity`` makes
    large merchants more international (the size gradient of the mismatch rate).
    """
    probability = _multi_country_probability(n_outlets, float(rule["share_of_merchants"]), float(rule["size_elasticity"]))
    is_multi_country = rng.random(len(n_outlets)) < probability
    extra = rng.poisson(float(rule["extra_foreign_countries_mean"]), len(n_outlets))
    n_foreign = np.minimum(1 + extra, int(rule["max_foreign_countries"]))
    n_foreign = np.minimum(n_foreign, n_outlets - 1)  # the home country keeps at least one outlet
    return np.where(is_multi_country, n_foreign, 0).astype(np.int64)


def _multi_country_probability(n_outlets: np.ndarray, target_share: float, size_elasticity: float) -> np.ndarray:
    eligible = n_outlets >= 2
    if target_share <= 0 or not eligible.any():
        return np.zeros(len(n_outlets))
    if target_share >= eligible.mean():
        return eligible.astype(float)
    log_size = np.log(n_outlets[eligible].astype(float))

    def mean_probability(intercept: float) -> float:
        return float((1.0 / (1.0 + np.exp(-(intercept + size_elasticity * log_size)))).sum() / len(n_outlets))

    low, high = -50.0, 50.0
    for _ in range(200):  # bisection: mean_probability is increasing in the intercept
        middle = 0.5 * (low + high)
        low, high = (middle, high) if mean_probability(middle) < target_share else (low, middle)
    intercept = 0.5 * (low + high)
    probability = np.zeros(len(n_outlets))
    probability[eligible] = 1.0 / (1.0 + np.exp(-(intercept + size_elasticity * log_size)))
    return probability


def _allocate_legal_countries(
    rng: np.random.Generator,
    home_index: np.ndarray,
    n_outlets: np.ndarray,
    n_foreign: np.ndarray,
    gravity: np.ndarray,
    home_fraction: Mapping,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per merchant: legal country indices (home first) and the outlets in each.

    The home country keeps round(h * n) outlets with h ~ Beta(alpha, beta), bounded so every legal
    country gets at least one; the rest are split over the foreign countries as one each plus a
    multinomial on their gravity weights.
    """
    legal_index: list[np.ndarray] = []
    legal_outlets: list[np.ndarray] = []
    alpha, beta = float(home_fraction["alpha"]), float(home_fraction["beta"])
    for home, outlets, wanted_foreign in zip(home_index, n_outlets, n_foreign):
        destinations = gravity[home]
        n_reachable = int((destinations > 0).sum())
        k = min(int(wanted_foreign), n_reachable)
        if k == 0:
            legal_index.append(np.array([home]))
            legal_outlets.append(np.array([outlets]))
            continue
        foreign = rng.choice(len(destinations), size=k, replace=False, p=destinations)
        home_outlets = int(np.clip(round(rng.beta(alpha, beta) * outlets), 1, outlets - k))
        foreign_weights = destinations[foreign] / destinations[foreign].sum()
        foreign_outlets = 1 + rng.multinomial(outlets - home_outlets - k, foreign_weights)
        legal_index.append(np.concatenate([[home], foreign]))
        legal_outlets.append(np.concatenate([[home_outlets], foreign_outlets]))
    return legal_index, legal_outlets


def _expand_sites(
    merchant_ids: np.ndarray,
    home_iso: np.ndarray,
    legal_index: list[np.ndarray],
    legal_outlets: list[np.ndarray],
    iso: np.ndarray,
) -> pd.DataFrame:
    """One row per site, site_order 1..n within each (merchant, legal country)."""
    pair_counts = np.array([len(c) for c in legal_index])
    pair_merchant = np.repeat(merchant_ids, pair_counts)
    pair_home = np.repeat(home_iso, pair_counts)
    pair_legal = iso[np.concatenate(legal_index)]
    pair_sites = np.concatenate(legal_outlets).astype(np.int64)

    starts = np.repeat(np.cumsum(pair_sites) - pair_sites, pair_sites)
    site_order = (np.arange(pair_sites.sum()) - starts + 1).astype(np.int32)
    catalogue = pd.DataFrame(
        {
            "merchant_id": np.repeat(pair_merchant, pair_sites).astype(np.int64),
            "home_country_iso": np.repeat(pair_home, pair_sites),
            "legal_country_iso": np.repeat(pair_legal, pair_sites),
            "site_order": site_order,
        }
    )
    catalogue = catalogue.sort_values(["merchant_id", "legal_country_iso", "site_order"], kind="stable")
    return catalogue.reset_index(drop=True)[CATALOGUE_COLUMNS]
