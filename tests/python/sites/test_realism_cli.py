"""Grading end to end: an origin-like catalogue is graded RED with its failing gates listed, and the
certificate is byte-identical for the same inputs."""

import json

import pandas as pd
import pytest

from gatehouse.sites import certify, geodata, outlets, runner


@pytest.fixture(scope="module")
def origin_like_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("origin")
    countries = geodata.load_countries()
    places = geodata.load_places(0)
    catalogue = outlets.generate_origin_like_catalogue(
        countries, seed=42, southern_share=outlets.southern_population_share(places, countries))
    catalogue.to_parquet(directory / "origin_like.parquet")
    inputs = runner.resolve_inputs(42, str(directory / "origin_like.parquet"))
    return directory, runner.run_sites(directory / "runs", inputs)


def test_origin_like_catalogue_is_graded_red_with_its_failing_gates(origin_like_run):
    directory, run_dir = origin_like_run
    score_dir, reached = certify.score(directory / "scores", str(run_dir / "site_locations.parquet"), seed=42)
    assert not reached
    grades = pd.read_parquet(score_dir / "results" / "realism_grades.parquet")
    assert grades.status.tolist() == ["RED_REOPEN_REQUIRED"]
    failing = grades.failing_gates.iloc[0]
    for gate in ("S-R-B-01 country_gini", "S-R-B-05 eligible_country_nonzero_share", "S-R-B-06 southern_hemisphere_share"):
        assert gate in failing
    scorecard = pd.read_parquet(score_dir / "results" / "realism_scorecard.parquet").iloc[0]
    assert scorecard.southern_hemisphere_share < 0.12 and scorecard.country_gini > 0.68
    record = json.loads((score_dir / "run_record.json").read_text())
    failed = {test["gate"] for test in record["dbt"]["tests"] if test["status"] == "fail"}
    assert {"S-R-B-01", "S-R-B-05", "S-R-B-06"} <= failed


def test_certificate_bytes_are_identical_for_identical_inputs(tmp_path):
    first, _ = certify.certify(tmp_path / "a", [42, 7])
    again, _ = certify.certify(tmp_path / "b", [42, 7])
    assert first.name == again.name
    assert (first / "results" / "certificate.json").read_bytes() == (again / "results" / "certificate.json").read_bytes()
    certificate = json.loads((first / "results" / "certificate.json").read_text())
    assert certificate["summary"]["missing_seeds"] == "101,202" and certificate["certified_grade"] == "NONE"
