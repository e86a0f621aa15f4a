"""The glue of the Python states on a tiny made-up world: two square 'countries' on a 1-degree grid."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from gatehouse.sites.outputs import bundle

from gatehouse.sites.dbt_steps import pipeline, sources

from gatehouse.sites.commands import publish

MF = "ab" * 32
WORLD = {"AA": box(0, 0, 3, 2), "BB": box(179, 10, 180, 11)}  # BB touches the antimeridian


def countries_table() -> pd.DataFrame:
    return pd.DataFrame({"country_iso": list(WORLD), "macro_region": ["Europe", "Oceania"],
                         "geometry_wkb": list(shapely.to_wkb(list(WORLD.values())))})


def tiles_policy(countries=()):
    return {"res_deg": 1.0, "countries": list(countries)}


def test_tile_index_clips_edges_to_the_globe():
    tiles = pipeline.tile_index(countries_table(), tiles_policy())
    assert len(tiles[tiles.country_iso == "AA"]) == 6
    assert tiles["max_lon"].max() <= 180.0 and tiles["min_lon"].min() >= -180.0
    only = pipeline.tile_index(countries_table(), tiles_policy(["BB", "RE"]))  # RE has no polygon: no tiles
    assert set(only.country_iso) == {"BB"}


def test_chain_s2_to_s6_places_every_site_in_its_tile_and_country():
    tiles = pipeline.tile_index(countries_table(), tiles_policy())
    places = pd.DataFrame({"geonameid": [1, 2], "name": ["x", "y"], "country_iso": ["AA", "AA"],
                           "lon_deg": [0.5, 2.5], "lat_deg": [0.5, 1.5], "population": [1000, 10]})
    weights_policy = {"mix": {"uniform": 0.2, "area": 0.0, "population": 0.8}, "dp": 4,
                      "min_place_population": 0, "tie_namespace": "t"}
    weights = pipeline.tile_weights(tiles, places, weights_policy, 1.0)
    assert weights.groupby("country_iso")["weight_fp"].sum().tolist() == [10_000, 10_000]

    requirements = pd.DataFrame({"merchant_id": [1, 2], "legal_country_iso": ["AA", "BB"], "n_sites": [7, 2]})
    plan = pipeline.alloc_plan(requirements, weights, {"mode": "weighted_sample_v2"}, 42, MF)
    assert plan.groupby("legal_country_iso")["n_sites_tile"].sum().to_dict() == {"AA": 7, "BB": 2}

    assigned = pipeline.site_assignment(plan, 42, MF)
    assert len(assigned) == 9 and (assigned["rng_draws"] == 1).all()
    sites = assigned.merge(tiles.rename(columns={"country_iso": "legal_country_iso"}),
                           on=["legal_country_iso", "tile_id"])
    jitter_policy = {"policy_version": "t", "mode": "uniform_v1", "namespace": "T", "max_attempts": 10,
                     "refine_after_attempts": 0}
    placed = pipeline.site_jitter(sites, countries_table(), places, jitter_policy, 42, MF, 1.0)
    assert (placed["rng_blocks"] == placed["attempts"]).all() and (placed["rng_draws"] == 2 * placed["attempts"]).all()
    checked = pipeline.point_in_country(placed, countries_table())
    assert checked["in_country"].all()


def test_alloc_plan_names_countries_without_tiles():
    weights = pd.DataFrame({"country_iso": ["AA"], "tile_id": [1], "weight_fp": [10], "dp": [1]})
    requirements = pd.DataFrame({"merchant_id": [1], "legal_country_iso": ["RE"], "n_sites": [1]})
    with pytest.raises(pipeline.RequirementsError, match=r"E303_COUNTRY_WITHOUT_TILES.*\['RE'\]"):
        pipeline.alloc_plan(requirements, weights, {"mode": "largest_remainder_v1"}, 1, MF)


def test_point_in_country_counts_the_boundary_and_rejects_outside():
    sites = pd.DataFrame({"merchant_id": [1, 1, 1], "legal_country_iso": ["AA"] * 3, "site_order": [1, 2, 3],
                          "lon_deg": [1.0, 3.0, 3.5], "lat_deg": [1.0, 1.0, 1.0]})
    assert pipeline.point_in_country(sites, countries_table())["in_country"].tolist() == [True, True, False]


def test_gate_receipt_verifies_the_bundle_and_its_fingerprint(tmp_path):
    directory = tmp_path / ("manifest_fingerprint=" + "cd" * 32)
    flag = bundle.write_bundle(directory, {"MANIFEST.json": b"{}"})
    sealed = pd.DataFrame({"name": ["p.yaml", "a.zip"], "sha256_hex": ["00" * 32, "11" * 32],
                           "role": ["parameter", "artefact"]})
    inputs = sources.SitesInputs(gate_bundle_path=directory)
    upstream = pd.DataFrame({"upstream_manifest_fingerprint": ["cd" * 32], "upstream_seed": ["9"]})
    receipt = pipeline.gate_receipt(inputs, sealed, upstream, commit="ab" * 20).iloc[0]
    assert receipt["gate_status"] == "passed" and receipt["flag_sha256_hex"] == flag
    assert receipt["upstream_manifest_fingerprint"] == "cd" * 32 and receipt["upstream_seed"] == "9"
    assert (receipt["parameter_hash"], receipt["manifest_fingerprint"]) == pipeline.lineage_tokens(sealed, "ab" * 20)

    with pytest.raises(bundle.GateInError, match="E007_FINGERPRINT_MISMATCH"):
        pipeline.gate_receipt(inputs, sealed, upstream.assign(upstream_manifest_fingerprint="ef" * 32), "ab" * 20)
    (directory / "_passed.flag").unlink()
    with pytest.raises(bundle.GateInError, match="E004_FLAG_MISSING"):
        pipeline.gate_receipt(inputs, sealed, upstream, "ab" * 20)


def test_state_of_nodes():
    nodes = {"model.g.s4_alloc_plan": {"name": "s4_alloc_plan"},
             "test.g.gate_s8_pk_unique.1": {"name": "gate_s8_pk_unique", "attached_node": "model.g.site_locations"},
             "test.g.not_null_site_locations_x.2": {"name": "not_null_site_locations_x",
                                                    "attached_node": "model.g.site_locations"},
             "model.g.site_locations": {"name": "site_locations"},
             "model.g.stg_geo__places": {"name": "stg_geo__places"}}
    assert [publish._state_of(uid, nodes) for uid in nodes] == ["S4", "S8", "S8", "S8", "staging"]
