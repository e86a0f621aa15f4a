"""S2 tile weights: blend uniform, area and population mass per country, then quantise to integers.

Masses are normalised within each country: S2 decides where inside a country sites go, never how many
sites a country gets (that count comes from 1A). ``country_rebalance_diagnostic`` reproduces the
reference's country-level rebalance for reporting only.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gatehouse.sites.kernels.outlet_metrics import gini, top_k_count, top_share
from gatehouse.sites.kernels.tiles import tile_ids_of_points

MIX_COMPONENTS = ("uniform", "area", "population")
MIX_TOLERANCE = 1e-9
DEFAULT_TIE_NAMESPACE = "gatehouse.1B.S2.tile_weights"
MAX_DP = 15  # K = 10**dp must stay exactly representable in float64 (< 2**53)

REGION_ORDER = ("Africa", "Asia", "Europe", "North America", "South America", "Oceania", "Other")


# ---------------------------------------------------------------------------------------------------
# Population per tile


def population_per_tile(places: pd.DataFrame, res_deg: float) -> pd.DataFrame:
    """Total place population per (country_iso, tile_id), sorted by both.

    ``places`` needs ``country_iso, lon_deg, lat_deg, population`` (as from ``geodata.load_places``).
    Each place counts for the grid cell containing it and for the country GeoNames gives it, so a
    coastal town whose cell centre is at sea, or a place whose code has no polygon of its own, finds
    no tile when joined to the tile index; ``population_coverage`` reports how much that loses.
    """
    tile_id = tile_ids_of_points(places["lon_deg"].to_numpy(), places["lat_deg"].to_numpy(), res_deg)
    frame = pd.DataFrame({
        "country_iso": places["country_iso"].to_numpy(),
        "tile_id": tile_id,
        "population": places["population"].to_numpy(dtype=np.int64),
    })
    summed = frame.groupby(["country_iso", "tile_id"], as_index=False, sort=True)["population"].sum()
    return summed.astype({"tile_id": "int64", "population": "int64"})


def population_coverage(tiles: pd.DataFrame, tile_population: pd.DataFrame) -> pd.DataFrame:
    """Per place-country: total population, the part landing on one of its own tiles, and that share."""
    keys = tiles[["country_iso", "tile_id"]].drop_duplicates()
    matched = tile_population.merge(keys, on=["country_iso", "tile_id"], how="inner")
    total = tile_population.groupby("country_iso")["population"].sum().rename("population")
    on_tiles = matched.groupby("country_iso")["population"].sum().rename("population_on_tiles")
    coverage = pd.concat([total, on_tiles], axis=1).fillna(0).astype("int64").reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        coverage["share_on_tiles"] = coverage["population_on_tiles"] / coverage["population"]
    return coverage


# ---------------------------------------------------------------------------------------------------
# Blend


def validate_mix(mix: dict, policy_key: str = "mix") -> dict[str, float]:
    """Return the mix with all three components; raise ValueError naming ``policy_key`` if it is invalid."""
    unknown = sorted(set(mix) - set(MIX_COMPONENTS))
    if unknown:
        raise ValueError(f"policy key {policy_key!r}: unknown components {unknown}; use {list(MIX_COMPONENTS)}")
    weights = {name: float(mix.get(name, 0.0)) for name in MIX_COMPONENTS}
    bad = [name for name, value in weights.items() if not (math.isfinite(value) and value >= 0)]
    if bad:
        raise ValueError(f"policy key {policy_key!r}: components {bad} must be finite and >= 0")
    total = math.fsum(weights.values())
    if abs(total - 1.0) > MIX_TOLERANCE:
        raise ValueError(f"policy key {policy_key!r} must sum to 1 (+/- {MIX_TOLERANCE}), got {total!r}")
    return weights


def blend_tile_mass(tiles: pd.DataFrame, tile_population: pd.DataFrame, mix: dict) -> pd.DataFrame:
    """blend_v2 mass per tile: m_i = u/N + a*area_i/sum(area) + p*pop_i/sum(pop), within each country.

    Returns ``country_iso, tile_id, mass, fallback`` sorted by (country_iso, tile_id); mass sums to 1
    per country. A component with positive mix weight whose country total is <= 0 (a country without
    places, say) is replaced by uniform for that country, and ``fallback`` is True on all its tiles.
    """
    weights = validate_mix(mix)
    frame = (
        tiles[["country_iso", "tile_id", "area_m2"]]
        .merge(tile_population[["country_iso", "tile_id", "population"]], on=["country_iso", "tile_id"], how="left")
        .sort_values(["country_iso", "tile_id"], kind="stable")
        .reset_index(drop=True)
    )
    frame["population"] = frame["population"].fillna(0).astype("float64")
    by_country = frame.groupby("country_iso", sort=False)
    uniform = 1.0 / by_country["tile_id"].transform("size").to_numpy(dtype=float)

    mass = weights["uniform"] * uniform
    fallback = np.zeros(len(frame), dtype=bool)
    for component, column in (("area", "area_m2"), ("population", "population")):
        if weights[component] == 0:
            continue
        share, fell_back = _normalised_within_country(frame[column], frame["country_iso"], uniform)
        mass = mass + weights[component] * share
        fallback |= fell_back
    return pd.DataFrame({
        "country_iso": frame["country_iso"],
        "tile_id": frame["tile_id"].astype("int64"),
        "mass": mass,
        "fallback": fallback,
    })


def countries_with_fallback(mass: pd.DataFrame) -> list[str]:
    return sorted(mass.loc[mass["fallback"], "country_iso"].unique())


def _normalised_within_country(values: pd.Series, country: pd.Series, uniform: np.ndarray):
    values = values.clip(lower=0).astype("float64")
    totals = values.groupby(country, sort=False).transform("sum").to_numpy()
    fell_back = ~(totals > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(fell_back, uniform, values.to_numpy() / totals)
    return share, fell_back


# ---------------------------------------------------------------------------------------------------
# Quantisation


def quantise_weights(mass_df: pd.DataFrame, dp: int, namespace: str = DEFAULT_TIE_NAMESPACE) -> pd.DataFrame:
    """Integer weights per tile, summing to exactly 10**dp in each country (largest remainder).

    q_i = m_i*K/M_c, z_i = floor(q_i); the shortfall S = K - sum(z) goes +1 to the S largest residues
    q_i - z_i. Equal residues are ordered by ``tie_key(namespace, country, tile_id)``, a hash, not by
    tile_id: ascending tile_id favours the north-west of every country, which is what striped the
    reference's sites. Rows are sorted by (country_iso, tile_id) before any sum, so the result does
    not depend on input row order. A country whose mass is all zero is quantised as uniform
    (``zero_mass_fallback``).

    Returns ``country_iso, tile_id, weight_fp (int64), dp, zero_mass_fallback``.
    """
    if not isinstance(dp, (int, np.integer)) or not 0 <= dp <= MAX_DP:
        raise ValueError(f"dp must be an integer in [0, {MAX_DP}], got {dp!r}")
    frame = mass_df[["country_iso", "tile_id", "mass"]].sort_values(["country_iso", "tile_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    mass = frame["mass"].to_numpy(dtype=float)
    if not np.isfinite(mass).all() or (mass < 0).any():
        raise ValueError("tile mass must be finite and >= 0")
    if frame.duplicated(["country_iso", "tile_id"]).any():
        raise ValueError("mass_df has duplicate (country_iso, tile_id) rows")

    countries = frame["country_iso"].to_numpy()
    tile_ids = frame["tile_id"].to_numpy(dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, countries[1:] != countries[:-1]]) if len(frame) else np.empty(0, int)
    ends = np.r_[starts[1:], len(frame)]

    weight = np.zeros(len(frame), dtype=np.int64)
    zero_mass = np.zeros(len(frame), dtype=bool)
    for start, end in zip(starts, ends):
        country_mass = mass[start:end]
        if not country_mass.sum() > 0:
            country_mass = np.ones(end - start)
            zero_mass[start:end] = True
        quota = country_mass * (10**dp / country_mass.sum())
        weight[start:end] = largest_remainder(
            quota, 10**dp, lambda idx, c=countries[start], t=tile_ids[start:end]: tie_keys(namespace, c, t[idx])
        )
    return pd.DataFrame({
        "country_iso": frame["country_iso"],
        "tile_id": frame["tile_id"].astype("int64"),
        "weight_fp": weight,
        "dp": np.int64(dp),
        "zero_mass_fallback": zero_mass,
    })


def largest_remainder(quota: np.ndarray, total: int, tie_keys_of) -> np.ndarray:
    """Round ``quota`` (which should sum to ``total``) to integers summing to exactly ``total``.

    ``tie_keys_of(indices)`` returns uint64 keys ranking equal residues (lower key wins). It is only
    called for the residues tied at the cut, so hashing stays cheap for large countries.
    """
    base = np.floor(quota).astype(np.int64)
    residue = quota - base
    shortfall = total - int(base.sum())
    if shortfall > 0:
        base[_top_by_residue(residue, shortfall, tie_keys_of)] += 1
    elif shortfall < 0:
        # Rounding pushed some quota just over an integer; take back from the smallest residues.
        can_give = np.flatnonzero(base > 0)
        base[can_give[_top_by_residue(-residue[can_give], -shortfall, lambda i: tie_keys_of(can_give[i]))]] -= 1
    return base


def _top_by_residue(residue: np.ndarray, count: int, tie_keys_of) -> np.ndarray:
    """Indices of the ``count`` largest residues, equal residues at the cut ordered by tie key."""
    if count >= residue.size:
        return np.arange(residue.size)
    cut = np.partition(residue, residue.size - count)[residue.size - count]
    above = np.flatnonzero(residue > cut)
    at_cut = np.flatnonzero(residue == cut)
    keys = tie_keys_of(at_cut)
    chosen_at_cut = at_cut[np.argsort(keys, kind="stable")[: count - above.size]]
    return np.concatenate([above, chosen_at_cut])


def tie_key(namespace: str, country_iso: str, tile_id: int) -> int:
    """First 8 bytes (big-endian) of sha256("{namespace}|{country_iso}|{tile_id}")."""
    digest = hashlib.sha256(f"{namespace}|{country_iso}|{int(tile_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def tie_keys(namespace: str, country_iso: str, tile_ids) -> np.ndarray:
    return np.array([tie_key(namespace, country_iso, t) for t in np.asarray(tile_ids)], dtype=np.uint64)


# ---------------------------------------------------------------------------------------------------
# Country rebalance (diagnostic only)


@dataclass(frozen=True)
class RebalancePolicy:
    """Knobs of the reference's blend_v2 country rebalance (defaults: its current policy)."""

    region_floors: dict = field(default_factory=lambda: {
        "Africa": 0.07, "Asia": 0.17, "Europe": 0.15, "North America": 0.02,
        "South America": 0.08, "Oceania": 0.04, "Other": 0.0,
    })
    soft_cap: float = 0.055
    hard_cap: float = 0.080
    topk_targets: dict = field(default_factory=lambda: {0.01: 0.11, 0.05: 0.32, 0.10: 0.48})
    penalty_strength: float = 0.22
    max_iterations: int = 24
    tolerance: float = 1e-9


@dataclass(frozen=True)
class RebalanceDiagnostic:
    shares: pd.DataFrame  # country_iso, macro_region, base_share, rebalanced_share
    region_shares: dict  # macro region -> rebalanced share
    gini_base: float
    gini_rebalanced: float
    topk_base: dict  # fraction f -> share of the ceil(f*n) largest countries
    topk_rebalanced: dict
    iterations: int
    converged: bool
    max_delta: float


def country_basis(tiles: pd.DataFrame, tile_population: pd.DataFrame, countries: pd.DataFrame) -> pd.DataFrame:
    """Per-country inputs of the rebalance: country_iso, macro_region, n_tiles, area_m2, population."""
    per_country = tiles.groupby("country_iso").agg(n_tiles=("tile_id", "size"), area_m2=("area_m2", "sum"))
    population = tile_population.merge(tiles[["country_iso", "tile_id"]], on=["country_iso", "tile_id"])
    per_country["population"] = population.groupby("country_iso")["population"].sum()
    per_country = per_country.fillna({"population": 0}).reset_index()
    regions = countries[["country_iso", "macro_region"]]
    return per_country.merge(regions, on="country_iso", how="left")[
        ["country_iso", "macro_region", "n_tiles", "area_m2", "population"]
    ]


def country_rebalance_diagnostic(
    basis: pd.DataFrame, mix: dict, policy: RebalancePolicy = RebalancePolicy()
) -> RebalanceDiagnostic:
    """The reference's blend_v2 country-level rebalance, computed as a diagnostic only.

    Country site counts come from 1A. Tile weights are normalised within each country, so nothing
    here can move how many sites a country gets; the reference applied none of it to any output, and
    neither do we. The shares are reported to show what the policy would have wanted.

    ``basis`` has ``country_iso, macro_region, n_tiles, area_m2, population`` (see ``country_basis``).
    Base share s = u*norm(n_tiles) + a*norm(area) + p*norm(population); then up to ``max_iterations``
    rounds of: region floors (in ``REGION_ORDER``), hard cap, top-k caps (k = ceil(f*n)), penalty
    s <- (1-alpha)*s + alpha/n, clip at 1e-18 and renormalise; stop once max|change| <= tolerance.
    """
    weights = validate_mix(mix)
    basis = basis.sort_values("country_iso", kind="stable").reset_index(drop=True)
    base = sum(weights[name] * _normalised(basis[column].to_numpy(dtype=float))
               for name, column in (("uniform", "n_tiles"), ("area", "area_m2"), ("population", "population")))
    regions = basis["macro_region"].fillna("Other").to_numpy()

    shares, iterations, converged, max_delta = base.copy(), 0, False, float("inf")
    while iterations < policy.max_iterations:
        updated = _rebalance_once(shares, regions, policy)
        max_delta = float(np.max(np.abs(updated - shares)))
        shares, iterations = updated, iterations + 1
        if max_delta <= policy.tolerance:
            converged = True
            break

    fractions = sorted(policy.topk_targets)
    return RebalanceDiagnostic(
        shares=pd.DataFrame({"country_iso": basis["country_iso"], "macro_region": regions,
                             "base_share": base, "rebalanced_share": shares}),
        region_shares={region: float(shares[regions == region].sum()) for region in REGION_ORDER},
        gini_base=gini(base),
        gini_rebalanced=gini(shares),
        topk_base={f: top_share(base, f) for f in fractions},
        topk_rebalanced={f: top_share(shares, f) for f in fractions},
        iterations=iterations,
        converged=converged,
        max_delta=max_delta,
    )


def _normalised(values: np.ndarray) -> np.ndarray:
    values = np.clip(values, 0, None)
    total = values.sum()
    return values / total if total > 0 else np.full(values.size, 1.0 / values.size)


def _rebalance_once(shares: np.ndarray, regions: np.ndarray, policy: RebalancePolicy) -> np.ndarray:
    s = shares.copy()
    for region in REGION_ORDER:
        s = _apply_region_floor(s, regions == region, policy.region_floors.get(region, 0.0))
    s = _apply_hard_cap(s, policy.soft_cap, policy.hard_cap)
    for fraction in sorted(policy.topk_targets):
        s = _apply_topk_cap(s, fraction, policy.topk_targets[fraction])
    n = s.size
    s = (1 - policy.penalty_strength) * s + policy.penalty_strength / n
    s = np.clip(s, 1e-18, None)
    return s / s.sum()


def _apply_region_floor(s: np.ndarray, in_region: np.ndarray, floor: float) -> np.ndarray:
    region_share, others_share = s[in_region].sum(), s[~in_region].sum()
    if not in_region.any() or region_share >= floor or others_share <= 0:
        return s
    deficit = min(floor - region_share, others_share)
    s = s.copy()
    s[~in_region] -= deficit * s[~in_region] / others_share
    s[in_region] += deficit * _proportions(s[in_region])
    return s


def _apply_hard_cap(s: np.ndarray, soft_cap: float, hard_cap: float) -> np.ndarray:
    excess = np.clip(s - hard_cap, 0, None).sum()
    if excess <= 0:
        return s
    s = np.minimum(s, hard_cap)
    receivers = np.clip(soft_cap - s, 0, None)
    if receivers.sum() <= 0:
        receivers = np.clip(hard_cap - s, 0, None)
    return s + excess * _proportions(receivers)


def _apply_topk_cap(s: np.ndarray, fraction: float, target: float) -> np.ndarray:
    k = top_k_count(s.size, fraction)
    if k >= s.size:
        return s
    top = np.argsort(-s, kind="stable")[:k]
    top_sum = s[top].sum()
    if top_sum <= target:
        return s
    tail = np.ones(s.size, dtype=bool)
    tail[top] = False
    s = s.copy()
    s[top] *= target / top_sum
    s[tail] += (top_sum - target) * _proportions(s[tail])
    return s


def _proportions(values: np.ndarray) -> np.ndarray:
    """values / sum(values), or uniform if they sum to zero."""
    total = values.sum()
    return values / total if total > 0 else np.full(values.size, 1.0 / values.size)
