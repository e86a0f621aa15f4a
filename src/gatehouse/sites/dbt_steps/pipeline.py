"""The Segment 1B states that need Python (S0, S1, S2, S4, S5, S6 and the S9 polygon check).

Each function is what one thin dbt Python model calls: it takes the frames the model read with
dbt.ref(...) plus its policy values, and returns the table the model publishes. Frames read from
DuckDB are re-sorted by their key first, so results never depend on scan order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from gatehouse.runs import code_version
from gatehouse.sites.kernels import alloc, assign, jitter, lineage, tiles, weights
from gatehouse.sites.outputs import bundle
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.inputs import policy as policies

S5_MODULE, S6_MODULE = "1B.S5.assigner", "1B.S6.jitter"


class RequirementsError(ValueError):
    """S3-S4 preconditions fail (E303 country with sites but no tiles, and the like)."""


class PlacementError(RuntimeError):
    """S6 could not place a site inside its tile and country (E613)."""


# ---------------------------------------------------------------------------------------------------
# S0 gate-in


def lineage_tokens(sealed: pd.DataFrame, commit: str | None) -> tuple[str, str]:
    """(parameter_hash, manifest_fingerprint) from the sealed-inputs table (§4)."""
    members = [lineage.Member(row.name, row.sha256_hex) for row in sealed.itertuples(index=False)]
    roles = sealed["role"].to_numpy()
    parameter_hash = lineage.parameter_hash([m for m, r in zip(members, roles) if r == "parameter"])
    fingerprint = lineage.manifest_fingerprint([m for m, r in zip(members, roles) if r == "artefact"],
                                               commit, parameter_hash)
    return parameter_hash, fingerprint


def gate_receipt(inputs: sources.SitesInputs, sealed: pd.DataFrame, upstream: pd.DataFrame,
                 commit: str | None = None) -> pd.DataFrame:
    """One row: the verified 1A gate (when a bundle is given) and the lineage tokens of this build.

    Raises bundle.GateInError (E00x) when the bundle fails, or when the catalogue names a different
    1A manifest_fingerprint than the bundle (E007).
    """
    commit = code_version() if commit is None else commit
    upstream_mf = _single(upstream, "upstream_manifest_fingerprint")
    upstream_seed = _single(upstream, "upstream_seed")
    flag, bundle_mf, gate_status = None, None, "no_bundle_given"
    if inputs.gate_bundle_path is not None:
        verified = bundle.verify_bundle(inputs.gate_bundle_path)
        flag, bundle_mf, gate_status = verified.flag_sha256_hex, verified.manifest_fingerprint, "passed"
        if bundle_mf and upstream_mf and bundle_mf != upstream_mf:
            raise bundle.GateInError(
                f"E007_FINGERPRINT_MISMATCH: the catalogue's manifest_fingerprint column is {upstream_mf} but the "
                f"bundle {inputs.gate_bundle_path} belongs to {bundle_mf}")
    parameter_hash, fingerprint = lineage_tokens(sealed, commit)
    return pd.DataFrame([{
        "manifest_fingerprint": fingerprint,
        "parameter_hash": parameter_hash,
        "code_version": commit,
        "gate_status": gate_status,
        "gate_bundle_path": str(inputs.gate_bundle_path) if inputs.gate_bundle_path else None,
        "flag_sha256_hex": flag,
        "upstream_manifest_fingerprint": bundle_mf or upstream_mf,
        "upstream_seed": upstream_seed,
        "catalogue_source": "user" if inputs.catalogue_path else "surrogate",
        "n_sealed_inputs": len(sealed),
    }])


def _single(frame: pd.DataFrame, column: str):
    values = frame[column].dropna().unique() if column in frame else []
    return str(values[0]) if len(values) else None


# ---------------------------------------------------------------------------------------------------
# S1 tile index, S2 tile weights


def tile_index(countries_table: pd.DataFrame, tiles_policy: dict) -> pd.DataFrame:
    countries = sources.country_frame(countries_table)
    selected = tiles_policy["countries"]
    # Codes without a polygon simply get no tiles; S3 names them (E303) if they have sites.
    only = sorted(set(selected) & set(countries["country_iso"])) if selected else None
    index = tiles.build_tile_index(countries, tiles_policy["res_deg"], only)
    # Edges are computed as -180 + col * step, so the last column can end an ulp past 180 (same at the poles).
    index["min_lon"], index["max_lon"] = index["min_lon"].clip(-180.0, 180.0), index["max_lon"].clip(-180.0, 180.0)
    index["min_lat"], index["max_lat"] = index["min_lat"].clip(-90.0, 90.0), index["max_lat"].clip(-90.0, 90.0)
    return index


def tile_weights(tile_table: pd.DataFrame, places: pd.DataFrame, weights_policy: dict, res_deg: float) -> pd.DataFrame:
    """blend_v2 masses quantised to weight_fp (sum 10^dp per country), with the mass and population kept."""
    tile_table = tile_table.sort_values(["country_iso", "tile_id"], kind="stable").reset_index(drop=True)
    population = _tile_population(places, weights_policy, res_deg)
    mass = weights.blend_tile_mass(tile_table, population, weights_policy["mix"])
    quantised = weights.quantise_weights(mass, weights_policy["dp"], weights_policy["tie_namespace"])
    out = quantised.merge(mass.rename(columns={"fallback": "component_fallback"}), on=["country_iso", "tile_id"])
    out = out.merge(population, on=["country_iso", "tile_id"], how="left")
    out["population"] = out["population"].fillna(0).astype("int64")
    return out[["country_iso", "tile_id", "weight_fp", "dp", "mass", "population", "component_fallback",
                "zero_mass_fallback"]]


def _tile_population(places: pd.DataFrame, weights_policy: dict, res_deg: float) -> pd.DataFrame:
    places = places.loc[places["population"] >= weights_policy["min_place_population"]]
    return weights.population_per_tile(places.sort_values("geonameid", kind="stable"), res_deg)


def country_rebalance(tile_table: pd.DataFrame, places: pd.DataFrame, countries_table: pd.DataFrame,
                      weights_policy: dict, res_deg: float) -> pd.DataFrame:
    """The reference's country-level rebalance, as a diagnostic table (never applied; see weights.py)."""
    tile_table = tile_table.sort_values(["country_iso", "tile_id"], kind="stable").reset_index(drop=True)
    population = _tile_population(places, weights_policy, res_deg)
    countries = countries_table.sort_values("country_iso", kind="stable")
    basis = weights.country_basis(tile_table, population, countries)
    diagnostic = weights.country_rebalance_diagnostic(basis, weights_policy["mix"],
                                                      policies.rebalance_policy(weights_policy))
    out = diagnostic.shares.merge(basis[["country_iso", "n_tiles", "area_m2", "population"]], on="country_iso")
    return out.assign(gini_base=diagnostic.gini_base, gini_rebalanced=diagnostic.gini_rebalanced,
                      iterations=diagnostic.iterations, converged=diagnostic.converged,
                      max_delta=diagnostic.max_delta)


# ---------------------------------------------------------------------------------------------------
# S4 allocation, S5 assignment, S6 jitter


def alloc_plan(requirements: pd.DataFrame, tile_weights_table: pd.DataFrame, alloc_policy: dict, seed: int,
               fingerprint: str) -> pd.DataFrame:
    """[merchant_id, legal_country_iso, tile_id, n_sites_tile] plus the pair's RNG blocks (repeated per row)."""
    pairs = (requirements.rename(columns={"legal_country_iso": "country_iso"})
             [["merchant_id", "country_iso", "n_sites"]])
    used = tile_weights_table[tile_weights_table["country_iso"].isin(pairs["country_iso"].unique())]
    require_tiles(pairs["country_iso"], used["country_iso"])
    dp = int(used["dp"].iloc[0]) if len(used) else 0
    plan, accounting = alloc.allocate_pairs(pairs, used[["country_iso", "tile_id", "weight_fp"]], 10**dp, seed,
                                            fingerprint, alloc_policy["mode"], return_rng_accounting=True,
                                            cluster_size=alloc_policy.get("cluster_size", 2))
    plan = plan.merge(accounting.rename(columns={"blocks": "pair_rng_blocks", "shortfall": "pair_shortfall"}),
                      on=["merchant_id", "country_iso"])
    return plan.rename(columns={"country_iso": "legal_country_iso"})


def require_tiles(pair_countries, tiled_countries) -> None:
    """E303 when a pair's legal country has no S2 tile weights (checked once for all pairs, so every engine
    names the same countries)."""
    untiled = sorted(set(pair_countries) - set(tiled_countries))
    if untiled:
        raise RequirementsError(f"E303_COUNTRY_WITHOUT_TILES: s2_tile_weights has no tiles for {untiled[:10]}")


def site_assignment(plan: pd.DataFrame, seed: int, fingerprint: str) -> pd.DataFrame:
    plan = (plan.rename(columns={"legal_country_iso": "country_iso"})
            .sort_values(["merchant_id", "country_iso", "tile_id"], kind="stable").reset_index(drop=True))
    sites = assign.assign_sites(plan[["merchant_id", "country_iso", "tile_id", "n_sites_tile"]], seed, fingerprint)
    sites = sites.rename(columns={"country_iso": "legal_country_iso"})
    return sites.assign(module=S5_MODULE, substream_label=assign.ASSIGN_LABEL,
                        rng_blocks=np.int64(assign.BLOCKS_PER_SITE), rng_draws=np.int64(1))


def site_jitter(sites: pd.DataFrame, countries_table: pd.DataFrame, places: pd.DataFrame, jitter_policy: dict,
                seed: int, fingerprint: str, res_deg: float) -> pd.DataFrame:
    """S5 sites joined to their tile rectangle -> accepted point, deltas from the centroid, attempts."""
    sites = (sites.rename(columns={"legal_country_iso": "country_iso"})
             .sort_values(["merchant_id", "country_iso", "site_order"], kind="stable").reset_index(drop=True))
    # Sites per tile in this seed's S5 plan: passed explicitly so that any site regenerates alone.
    sites["tile_sites"] = sites.groupby(["country_iso", "tile_id"])["site_order"].transform("size")
    settings = policies.jitter_settings(jitter_policy)
    anchors = _anchor_places(places, res_deg) if settings["mode"] == "population_anchored" else None
    try:
        placed = jitter.jitter_sites(sites, sources.country_geometries(countries_table), anchors, settings, seed,
                                     fingerprint)
    except jitter.JitterExhaustedError as exc:
        raise PlacementError(f"E613_RESAMPLE_EXHAUSTED: {exc}") from exc
    blocks = jitter.BLOCKS_PER_ATTEMPT[settings["mode"]]
    return pd.DataFrame({
        "merchant_id": placed["merchant_id"],
        "legal_country_iso": placed["country_iso"],
        "site_order": placed["site_order"],
        "tile_id": placed["tile_id"],
        "lon_deg": placed["lon_deg"],
        "lat_deg": placed["lat_deg"],
        "delta_lon_deg": placed["lon_deg"] - placed["centroid_lon"],
        "delta_lat_deg": placed["lat_deg"] - placed["centroid_lat"],
        "component": placed["component"].astype(str),
        "attempts": placed["attempts"].astype("int64"),
        "module": S6_MODULE,
        "substream_label": f"in_cell_jitter:{settings['namespace']}",
        "rng_blocks": placed["attempts"].astype("int64") * blocks,
        "rng_draws": placed["attempts"].astype("int64") * 2 * blocks,
    })


def _anchor_places(places: pd.DataFrame, res_deg: float) -> pd.DataFrame:
    places = places.loc[places["population"] > 0].sort_values("geonameid", kind="stable")
    return pd.DataFrame({
        "tile_id": tiles.tile_ids_of_points(places["lon_deg"].to_numpy(), places["lat_deg"].to_numpy(), res_deg),
        "lon": places["lon_deg"].to_numpy(), "lat": places["lat_deg"].to_numpy(),
        "pop": places["population"].to_numpy(dtype=np.float64), "country_iso": places["country_iso"].to_numpy(),
    })


# ---------------------------------------------------------------------------------------------------
# S9 point-in-country


def point_in_country(sites: pd.DataFrame, countries_table: pd.DataFrame) -> pd.DataFrame:
    """Per site: inside or on the boundary of its legal country's polygon (independent of S6's own test)."""
    geometries = sources.country_geometries(countries_table)
    key = [column for column in ("seed", "merchant_id", "legal_country_iso", "site_order") if column in sites]
    sites = sites.sort_values(key, kind="stable").reset_index(drop=True)
    inside = np.zeros(len(sites), dtype=bool)
    for iso, rows in sites.groupby("legal_country_iso", sort=True).indices.items():
        geometry = geometries.get(iso)
        if geometry is not None:
            inside[rows] = shapely.intersects_xy(geometry, sites["lon_deg"].to_numpy()[rows],
                                                 sites["lat_deg"].to_numpy()[rows])
    return sites[key].assign(in_country=inside)
