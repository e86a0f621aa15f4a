"""Grading end to end: the default certification (grade, plausibility, frontier, CV > 0 for the country
metrics, prior sensitivity, maps and GeoParquet, byte-identical on a rerun), `sites score` on its
GeoParquet, and the origin-like catalogue refused by the 1A guard before anything is built."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from gatehouse import cli
from gatehouse.runs import EXIT_FAILED
from gatehouse.sites.commands import certify
from gatehouse.sites.inputs import geodata, outlets
from gatehouse.sites.dbt_steps import sources

from .test_freeze import assert_refused_before_placement

SEEDS = [42, 7]


@pytest.fixture(scope="module")
def certified(tmp_path_factory):
    directory = tmp_path_factory.mktemp("certify")
    first, _ = certify.certify(directory / "a", SEEDS)
    again, _ = certify.certify(directory / "b", SEEDS)
    return directory, first, again


def test_certificate_bytes_are_identical_for_identical_inputs(certified):
    _, first, again = certified
    assert first.name == again.name
    for name in ("certificate.json", "site_locations.geoparquet", "maps/map_seed42_world.png"):
        assert (first / "results" / name).read_bytes() == (again / "results" / name).read_bytes(), name


def test_certificate_names_missing_seeds_plausibility_and_catalogue_seeds(certified):
    certificate = json.loads((certified[1] / "results" / "certificate.json").read_text())
    assert certificate["summary"]["missing_seeds"] == "101,202" and certificate["certified_grade"] == "NONE"
    assert {(row["seed"], row["check_id"]) for row in certificate["plausibility"]} == {
        (seed, check) for seed in SEEDS for check in ("P-1", "P-2", "P-3", "P-4")}
    assert all(row["passed"] for row in certificate["plausibility"])
    assert certificate["catalogue"]["catalogue_seeds"] == {str(s): sources.catalogue_seed_for(42, s) for s in SEEDS}
    stability = {row["metric"]: row["cv"] for row in certificate["stability"]}
    for metric in ("country_gini", "top1_share", "top10_share", "southern_hemisphere_share"):
        assert stability[metric] > 0, metric  # each seed reads its own catalogue


def test_prior_sensitivity_shows_what_the_prior_carries(certified):
    certificate = json.loads((certified[1] / "results" / "certificate.json").read_text())
    rows = {row["prior"]: row for row in certificate["prior_sensitivity"]["alternatives"]}
    assert set(rows) == {"population_proportional", "gdp_proportional", "origin_like"}
    proportional = rows["population_proportional"]  # the 1A authority's own prior: plausible, but RED
    assert proportional["plausibility_pass"] and proportional["freeze_guard_status"] == "PASS"
    assert proportional["seed_grade"] == "NONE" and "S-R-B-04 top1_share" in proportional["failing_gates"]
    origin = rows["origin_like"]
    assert origin["status"] == "RED_REOPEN_REQUIRED" and origin["freeze_guard_status"] == "FAIL"
    for gate in ("S-R-B-01 country_gini", "S-R-B-05 eligible_country_nonzero_share", "S-R-B-06 southern_hemisphere_share"):
        assert gate in origin["failing_gates"]
    assert "E305_COUNTRY_MIX_RANK" in origin["freeze_guard_reasons"]


def test_maps_and_geoparquet_are_published(certified):
    results = certified[1] / "results"
    for seed in SEEDS:
        maps = sorted(path.name for path in (results / "maps").glob(f"map_seed{seed}_*.png"))
        assert len(maps) == 4 and f"map_seed{seed}_world.png" in maps
    geo = json.loads(pq.read_schema(results / "site_locations.geoparquet").metadata[b"geo"])
    assert geo["primary_column"] == "geometry" and geo["columns"]["geometry"]["encoding"] == "WKB"


def test_score_grades_a_geoparquet_from_elsewhere(certified):
    directory, first, _ = certified
    sites = pd.read_parquet(first / "results" / "site_locations.geoparquet")
    one_seed = sites[sites["seed"] == 42]
    score_dir, reached = certify.score(directory / "scores", str(first / "results" / "site_locations.geoparquet"))
    assert reached  # target B: every B gate of every seed in the file
    scorecard = pd.read_parquet(score_dir / "results" / "realism_scorecard.parquet").set_index("seed")
    assert int(scorecard.loc[42, "n_sites"]) == len(one_seed)
    certified_card = pd.read_parquet(first / "results" / "realism_scorecard.parquet").set_index("seed")
    assert scorecard.loc[42, "country_gini"] == certified_card.loc[42, "country_gini"]


def test_score_does_not_grade_an_implausible_or_degenerate_placement(certified):
    """Seed 42's sites moved 180 degrees east (mostly into the sea): every B gate still passes, but P-4 does
    not, so no grade. Seed 7's sites each given an exact twin: the NN median is 0, so the NN tail is undefined
    and its gate fails instead of scoring the reference's ratio 0 as the best tail."""
    directory, first, _ = certified
    sites = pd.read_parquet(first / "results" / "site_locations.geoparquet").drop(columns="geometry")
    moved = sites[sites["seed"] == 42].assign(lon_deg=lambda frame: (frame["lon_deg"] + 360) % 360 - 180)
    twins = sites[sites["seed"] == 7]
    twins = pd.concat([twins, twins.assign(merchant_id=twins["merchant_id"] + 10**9)])
    path = directory / "implausible.parquet"
    pd.concat([moved, twins]).to_parquet(path)
    score_dir, reached = certify.score(directory / "implausible_scores", str(path))
    grades = pd.read_parquet(score_dir / "results" / "realism_grades.parquet").set_index("seed")
    scorecard = pd.read_parquet(score_dir / "results" / "realism_scorecard.parquet").set_index("seed")
    assert not reached
    assert grades.loc[42, "b_all_pass"] and not grades.loc[42, "plausibility_pass"]
    assert scorecard.loc[7, "nn_p50_m"] == 0 and pd.isna(scorecard.loc[7, "nn_tail_improvement"])
    assert not grades.loc[7, "b_all_pass"] and "S-R-B-07 nn_tail_improvement" in grades.loc[7, "failing_gates"]


def test_origin_like_catalogue_is_refused_by_the_guard_before_the_build(tmp_path, capsys):
    countries = sources.with_country_population(geodata.load_countries())
    catalogue = outlets.generate_origin_like_catalogue(countries, seed=42)
    catalogue.to_parquet(tmp_path / "origin_like.parquet")
    exit_code = cli.main(["sites", "run", "--seed", "42", "--outlet-catalogue", str(tmp_path / "origin_like.parquet"),
                          "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and "1A freeze guard FAIL" in error and "E305_COUNTRY_MIX_RANK" in error
    assert_refused_before_placement(tmp_path / "runs")
