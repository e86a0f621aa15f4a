"""1A freeze guard on a build's catalogue: the frozen authority (known answer, determinism), the
catalogue-level PASS/FAIL cases, the per-metric table of the dbt model, and the refusal before a
certification build. The rule-level guard cases live in test_outlet_metrics.py."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from gatehouse import cli
from gatehouse.runs import EXIT_FAILED, RunError, sha256_file
from gatehouse.sites.commands import certify
from gatehouse.sites.inputs import freeze, geodata, outlets, policy
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.kernels.outlet_metrics import load_bands
from gatehouse.sites.dbt_steps.sources import SitesInputs

from pathlib import Path

TUNED_V1_POLICY = Path(__file__).parent / "fixtures" / "outlets_1a_tuned_v1.yaml"

from .test_outlet_metrics import hand_catalogue


@pytest.fixture(scope="module")
def geography():
    return geodata.load_countries(), geodata.load_places(0)


@pytest.fixture(scope="module")
def default_simulation(geography):
    """The default surrogate of 1B seed 42 (catalogue seed derived from base 42 and seed 42)."""
    return sources.surrogate_simulation(SitesInputs(), *geography, 42)


@pytest.fixture(scope="module")
def authority():
    return freeze.load_authority()


# ----------------------------------------------------------------------------- the frozen authority


def test_authority_was_frozen_from_the_untuned_prior_not_the_candidate(authority):
    assert authority["source"]["policy_sha256"] == sha256_file(freeze.authority_prior_path()), (
        "the population-proportional prior changed after the 1A authority was frozen; do not regenerate the "
        "authority to make a candidate pass")
    assert authority["source"]["policy_sha256"] != sha256_file(outlets.default_policy_path())
    assert authority["source"]["policy_file"] == "policies/sites/outlets_1a_population_proportional.yaml"
    prior = outlets.load_outlet_policy(freeze.authority_prior_path())["home_country_mix"]
    assert prior["blend"] == {"population": 1.0, "gdp": 0.0, "uniform": 0.0} and prior["population_exponent"] == 1.0
    assert (prior["southern_boost"], prior["region_floors"], prior["country_cap_share"]) == (0.0, {}, 1.0)
    assert authority["source"]["catalogue_seed"] == 42


def test_authority_regenerates_byte_for_byte_from_the_default_policy(geography, authority):
    regenerated = freeze.authority_document(countries=geography[0], places=geography[1])
    assert regenerated == authority
    committed = freeze.frozen_authority_path().read_text(encoding="utf-8")
    assert json.dumps(regenerated, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == committed


def test_authority_known_answers(authority):
    """Means over the population-proportional catalogues of the four certification seeds."""
    metrics = authority["metrics"]
    assert authority["source"]["certification_seeds"] == [42, 7, 101, 202]
    assert metrics["merchant_count"] == 7800
    assert metrics["outlet_count"] == pytest.approx(102_785.25)
    assert metrics["median_outlets_per_merchant"] == 7.0
    assert metrics["single_site_share"] == pytest.approx(0.2880, abs=1e-4)
    assert metrics["top10_outlet_share"] == pytest.approx(0.3986, abs=1e-4)
    assert metrics["gini_outlets_per_merchant"] == pytest.approx(0.5759, abs=1e-4)
    assert metrics["home_legal_mismatch_rate"] == pytest.approx(0.1696, abs=1e-4)
    assert metrics["multi_country_legal_spread"] == pytest.approx(0.2980, abs=1e-4)
    assert metrics["size_gradient_pp"] == pytest.approx(22.14, abs=1e-2)
    assert metrics["phi_cv"] == pytest.approx(0.1199, abs=1e-4)
    assert metrics["phi_p95_p05_ratio"] == pytest.approx(1.483, abs=1e-3)
    assert metrics["no_identity_anomalies"] is True
    assert "candidate_count_median" not in metrics  # needs a candidate set
    assert authority["summary"]["b_pass_count"] == 11


def test_representative_values_are_means_and_all_of_checks():
    merged = freeze._representative([{"a": 1.0, "b": True, "c": None}, {"a": 2.0, "b": False, "c": None}])
    assert merged == {"a": 1.5, "b": False, "c": None}


def test_write_authority_refuses_to_overwrite(tmp_path):
    target = tmp_path / "authority.json"
    target.write_text("{}")
    with pytest.raises(freeze.FreezeGuardError, match="already exists and is frozen"):
        freeze.write_authority(target)
    assert target.read_text() == "{}"


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    ('{"metrics": [1]}', "key 'metrics' must be a mapping"),
    ('{"metrics": {}, "authority_version": "v", "source": {}}', "source.policy_sha256"),
])
def test_bad_authority_file_is_named(tmp_path, content, message):
    path = tmp_path / "authority.json"
    path.write_text(content)
    with pytest.raises(freeze.FreezeGuardError, match=message) as error:
        freeze.load_authority(path)
    assert str(path) in str(error.value)


# ----------------------------------------------------------------------------- catalogue PASS / FAIL


def test_default_surrogate_passes_with_its_regenerated_phi(default_simulation, geography):
    result = freeze.evaluate_catalogue(SitesInputs(), default_simulation.catalogue, 42, *geography)
    assert result["status"] == "PASS", result["reasons"]
    assert result["reasons"] == []
    catalogue_seed = sources.catalogue_seed_for(42, 42)
    assert result["phi_source"] == f"surrogate regenerated (outlets_1a.yaml, catalogue seed {catalogue_seed} of 1B seed 42)"
    assert result["b_pass_count"] == result["authority_b_pass_count"] == 11


def test_other_catalogue_seed_is_a_candidate_that_still_passes(geography, authority):
    simulation = sources.surrogate_simulation(SitesInputs(), *geography, 7)
    result = freeze.guard_catalogue(simulation.catalogue, simulation.merchants["phi"], authority)
    assert result["status"] == "PASS", result["reasons"]
    assert result["metrics"]["top10_outlet_share"] == pytest.approx(0.3975, abs=1e-4)


def test_staged_catalogue_that_is_not_the_surrogate_has_no_phi_and_fails(default_simulation, geography):
    edited = default_simulation.catalogue.iloc[:-1]  # the last site of the last merchant is gone
    result = freeze.evaluate_catalogue(SitesInputs(), edited, 42, *geography)
    assert result["status"] == "FAIL"
    assert "authority hard gate regressed: phi_cv" in result["reasons"]
    assert result["reasons"][-1].startswith("phi not available: the surrogate regenerated (outlets_1a.yaml")


def test_more_concentrated_catalogue_fails_on_top10_and_gini(default_simulation, authority):
    # 6000 more sites for the largest merchant at home: top10 and Gini rise by more than 0.01.
    catalogue = default_simulation.catalogue
    largest = int(catalogue["merchant_id"].value_counts().index[0])
    home = catalogue.loc[catalogue["merchant_id"] == largest, "home_country_iso"].iloc[0]
    at_home = int(((catalogue["merchant_id"] == largest) & (catalogue["legal_country_iso"] == home)).sum())
    extra = pd.DataFrame({"merchant_id": largest, "home_country_iso": home, "legal_country_iso": home,
                          "site_order": np.arange(at_home + 1, at_home + 6001)})
    inflated = pd.concat([catalogue, extra], ignore_index=True)
    result = freeze.guard_catalogue(inflated, default_simulation.merchants["phi"], authority)
    assert result["status"] == "FAIL"
    assert any(reason.startswith("top10_outlet_share worse than authority") for reason in result["reasons"])
    assert any(reason.startswith("gini_outlets_per_merchant worse than authority") for reason in result["reasons"])


def test_single_country_catalogue_fails_on_mismatch_and_spread(default_simulation, authority):
    domestic = default_simulation.catalogue.assign(legal_country_iso=default_simulation.catalogue["home_country_iso"])
    domestic["site_order"] = domestic.groupby(["merchant_id", "legal_country_iso"]).cumcount() + 1
    result = freeze.guard_catalogue(domestic, default_simulation.merchants["phi"], authority)
    assert result["status"] == "FAIL"
    assert result["metrics"]["home_legal_mismatch_rate"] == 0.0
    assert "authority B pass regressed: home_legal_mismatch_rate" in result["reasons"]
    assert "authority B pass regressed: multi_country_legal_spread" in result["reasons"]


def test_scoring_error_is_a_fail_not_a_crash(default_simulation, tmp_path):
    result = freeze.evaluate_catalogue(SitesInputs(), default_simulation.catalogue, 42,
                                       authority_path=tmp_path / "missing.json")
    assert result["status"] == "FAIL"
    assert result["reasons"][0].startswith("scoring error: FreezeGuardError:")
    table = freeze.guard_table(result)
    assert set(table["guard_status"]) == {"FAIL"}


# ----------------------------------------------------------------------------- the model's table


def test_guard_table_one_row_per_banded_metric(default_simulation, geography):
    result = freeze.evaluate_catalogue(SitesInputs(), default_simulation.catalogue, 42, *geography)
    table = freeze.guard_table(result)
    bands = load_bands()
    assert list(table["metric"]) == list(bands["metrics"])
    assert list(table.columns) == freeze.GUARD_COLUMNS
    row = table.set_index("metric")
    assert row.loc["single_site_share", "candidate_value"] == result["metrics"]["single_site_share"]
    assert row.loc["single_site_share", "authority_value"] == freeze.load_authority()["metrics"]["single_site_share"]
    assert (row.loc["single_site_share", "b_low"], row.loc["single_site_share", "b_high"]) == (0.25, 0.45)
    assert row.loc["size_gradient_pp", "b_band"] == ">= 5" and pd.isna(row.loc["size_gradient_pp", "b_high"])
    assert row.loc["no_identity_anomalies", "candidate_value"] == 1.0
    assert pd.isna(row.loc["candidate_count_median", "candidate_value"])
    assert not row.loc["candidate_count_median", "is_reported"]
    assert bool(row.loc["phi_cv", "hard_gate_pass"])
    assert pd.isna(row.loc["median_outlets_per_merchant", "hard_gate_pass"])  # not a hard gate
    assert int(table["b_pass"].sum()) == 11
    assert set(table["guard_status"]) == {"PASS"} and set(table["guard_reasons"]) == {""}


# ----------------------------------------------------------------------------- user catalogues and phi


def write_user_catalogue(path, phi=None):
    frame = hand_catalogue()
    if phi is not None:
        frame["phi"] = frame["merchant_id"].map(phi)
    frame.to_parquet(path)
    return path


def test_user_catalogue_phi_column(tmp_path):
    catalogue = hand_catalogue()
    phi, source = freeze.user_catalogue_phi(write_user_catalogue(tmp_path / "a.parquet", {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0}),
                                            catalogue)
    assert list(phi) == [1.0, 2.0, 3.0, 4.0] and source == "user catalogue column phi"
    phi, source = freeze.user_catalogue_phi(write_user_catalogue(tmp_path / "b.parquet"), catalogue)
    assert phi is None and "has no column phi" in source


def test_user_catalogue_phi_must_be_constant_and_positive(tmp_path):
    path = write_user_catalogue(tmp_path / "c.parquet", {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0})
    frame = pd.read_parquet(path)
    frame.loc[frame.index[-1], "phi"] = 9.0
    frame.to_parquet(path)
    with pytest.raises(freeze.FreezeGuardError, match="constant within each merchant_id"):
        freeze.user_catalogue_phi(path, hand_catalogue())
    frame["phi"] = 0.0
    frame.to_parquet(path)
    with pytest.raises(freeze.FreezeGuardError, match="finite number > 0"):
        freeze.user_catalogue_phi(path, hand_catalogue())


def test_surrogate_as_user_catalogue_passes_only_with_its_phi_column(default_simulation, tmp_path):
    phi = default_simulation.merchants.set_index("merchant_id")["phi"]
    with_phi = default_simulation.catalogue.assign(phi=lambda f: f["merchant_id"].map(phi))
    with_phi.to_parquet(tmp_path / "with_phi.parquet")
    default_simulation.catalogue.to_parquet(tmp_path / "without_phi.parquet")
    passed = freeze.evaluate_catalogue(SitesInputs(catalogue_path=tmp_path / "with_phi.parquet"),
                                       default_simulation.catalogue, 42)
    assert passed["status"] == "PASS" and passed["phi_source"] == "user catalogue column phi"
    failed = freeze.evaluate_catalogue(SitesInputs(catalogue_path=tmp_path / "without_phi.parquet"),
                                       default_simulation.catalogue, 42)
    assert failed["status"] == "FAIL" and failed["eligible_B"] is True
    assert failed["reasons"] == [
        "authority hard gate regressed: phi_cv", "authority hard gate regressed: phi_p95_p05_ratio",
        "authority B pass regressed: phi_cv", "authority B pass regressed: phi_p95_p05_ratio",
        "B-pass count 9 < authority 11",
        f"phi not available: {tmp_path / 'without_phi.parquet'} has no column phi (per-merchant NB dispersion)"]


def assert_refused_before_placement(runs_dir):
    """Nothing published; the failed attempt is kept with the gate-in results (the guard's FAIL rows) and
    without any placement: the freeze guard refused the catalogue before S1-S9 were built."""
    assert not list(runs_dir.glob("RUN_*"))
    attempts = list((runs_dir / "failed").iterdir())
    assert len(attempts) == 1
    con = duckdb.connect(str(attempts[0] / "warehouse.duckdb"), read_only=True)
    try:
        tables = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
        assert con.execute("select count(*) from realism_1a_freeze_guard where guard_status = 'FAIL'").fetchone()[0]
    finally:
        con.close()
    assert "s0_gate_receipt" in tables and not {"s4_alloc_plan", "site_locations"} & tables


def test_sites_run_refuses_a_failing_user_catalogue(tmp_path, capsys):
    catalogue = write_user_catalogue(tmp_path / "hand.parquet")
    exit_code = cli.main(["sites", "run", "--seed", "42", "--outlet-catalogue", str(catalogue),
                          "--runs-dir", str(tmp_path / "runs")])
    message = capsys.readouterr().err
    assert exit_code == EXIT_FAILED
    assert "1A freeze guard FAIL" in message and "hand.parquet" in message
    assert "no 1B run is allowed on this catalogue" in message
    assert_refused_before_placement(tmp_path / "runs")


def reopened_policy_dir(tmp_path, **outlets_changes):
    """A copy of the policy directory with outlets_1a.yaml changed (a reopened 1A candidate)."""
    target = tmp_path / "policies"
    shutil.copytree(policy.default_policy_dir(), target)
    document = yaml.safe_load((target / "outlets_1a.yaml").read_text())
    for dotted, value in outlets_changes.items():
        section, key = dotted.split("__")
        document[section][key] = value
    (target / "outlets_1a.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def test_reopened_surrogate_policy_that_breaks_1a_fails_the_guard(tmp_path):
    policy_dir = reopened_policy_dir(tmp_path, outlets_per_merchant__single_site_share=0.05,
                                     multi_country__share_of_merchants=0.2)
    inputs = SitesInputs(policy_dir=policy_dir)
    countries, places = geodata.load_countries(), geodata.load_places(0)
    catalogue = sources.catalogue_table(inputs, countries, places, set(sources.iso_codes_table()["country_iso"]))
    result = freeze.evaluate_catalogues(inputs, catalogue, countries, places)[42]
    assert result["status"] == "FAIL"
    assert result["phi_source"].startswith("surrogate regenerated (outlets_1a.yaml, catalogue seed")
    assert any(reason.startswith("hard gate failed: single_site_share=0.0") for reason in result["reasons"])  # ~0.05 < 0.10


def test_certify_refuses_a_non_pass_catalogue_and_publishes_nothing(tmp_path):
    runs_dir = tmp_path / "runs"
    catalogue = write_user_catalogue(tmp_path / "hand.parquet")
    with pytest.raises(RunError, match="1A freeze guard FAIL") as error:
        certify.certify(runs_dir, [42, 7, 101, 202], catalogue=str(catalogue))
    assert error.value.exit_code == EXIT_FAILED
    assert_refused_before_placement(runs_dir)


# ----------------------------------------------------------------------------- country mix (P-1, P-2)

RULES = {"min_population": 500, "max_unpopulated_sites": 0, "min_spearman": 0.85}


def sites_in(counts: dict) -> pd.DataFrame:
    rows = [(1, iso, iso, order) for iso, n in counts.items() for order in range(1, n + 1)]
    return pd.DataFrame(rows, columns=["merchant_id", "home_country_iso", "legal_country_iso", "site_order"])


def test_country_mix_known_answers():
    countries = pd.DataFrame({"country_iso": ["DE", "FR", "PN"]})  # GeoNames: DE 82.9M > FR 66.9M; PN 46 people
    assert freeze.country_mix_reasons(sites_in({"DE": 10, "FR": 5}), countries, RULES) == []
    reasons = freeze.country_mix_reasons(sites_in({"DE": 5, "FR": 10, "PN": 3}), countries, RULES)
    assert reasons[0] == ("E304_UNPOPULATED_TERRITORY: legal_country_iso has sites in territories with fewer than "
                          "500 inhabitants (GeoNames): PN 3 site(s), 46 inhabitants")
    assert reasons[1] == ("E305_COUNTRY_MIX_RANK: site counts per legal country do not follow population: "
                          "Spearman -1.000 < 0.85 over 2 populated countries")


def test_spearman_uses_average_ranks_for_ties():
    assert freeze.spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9486832980505138)
    assert np.isnan(freeze.spearman([1, 1, 1], [1, 2, 3]))


def catalogue_with_phi(simulation, path):
    phi = simulation.merchants.set_index("merchant_id")["phi"]
    simulation.catalogue.assign(phi=simulation.catalogue["merchant_id"].map(phi)).to_parquet(path)
    return path


def test_old_tuned_catalogue_fails_plausibility_and_the_new_guard(geography, tmp_path, capsys):
    """The v1 default (uniform share, floors, southern boost, 2 % cap) put sites on uninhabited islands."""
    simulation = sources.outlet_simulation(TUNED_V1_POLICY, 42, *geography)
    reasons = freeze.country_mix_reasons(simulation.catalogue, geography[0])
    assert len(reasons) == 1 and reasons[0].startswith("E304_UNPOPULATED_TERRITORY")
    for territory in ("HM 1", "UM 1", "GS 1", "PN 1"):  # each with a three-digit site count
        assert f" {territory}" in reasons[0]
    result = freeze.guard_catalogue(simulation.catalogue, simulation.merchants["phi"])
    assert result["status"] == "PASS"  # the 1A merchant shape alone does not see it: the country mix does
    path = catalogue_with_phi(simulation, tmp_path / "tuned_v1.parquet")
    exit_code = cli.main(["sites", "run", "--seed", "42", "--outlet-catalogue", str(path),
                          "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and "1A freeze guard FAIL" in error and "E304_UNPOPULATED_TERRITORY" in error
    assert_refused_before_placement(tmp_path / "runs")


def test_a_catalogue_with_sites_in_an_uninhabited_territory_is_refused(tmp_path, geography, capsys):
    simulation = sources.surrogate_simulation(SitesInputs(), *geography, 42)
    catalogue = simulation.catalogue.copy()
    catalogue.loc[catalogue.index[:5], "legal_country_iso"] = "HM"  # five sites moved to Heard Island
    catalogue["site_order"] = catalogue.groupby(["merchant_id", "legal_country_iso"]).cumcount() + 1
    path = catalogue_with_phi(outlets.OutletSimulation(catalogue, simulation.merchants, simulation.home_shares),
                              tmp_path / "heard.parquet")
    exit_code = cli.main(["sites", "run", "--seed", "42", "--outlet-catalogue", str(path),
                          "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and "heard.parquet" in error
    assert "E304_UNPOPULATED_TERRITORY" in error and "HM 5 site(s), 0 inhabitants" in error
    assert_refused_before_placement(tmp_path / "runs")
