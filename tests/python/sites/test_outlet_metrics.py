import copy
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pandas as pd
import pytest

from gatehouse.sites.kernels.outlet_metrics import (
    band_passes,
    freeze_guard,
    gini,
    identity_anomalies,
    load_bands,
    outlet_catalogue_metrics,
    phi_metrics,
    top_k_count,
    top_share,
)

PROJECT = Path(__file__).resolve().parents[3]


# ----------------------------------------------------------------------------- gini / top share


def test_gini_of_equal_values_is_zero():
    assert gini([5, 5, 5, 5]) == 0.0


@pytest.mark.parametrize("n", [2, 4, 10, 77])
def test_gini_of_one_hot_is_n_minus_one_over_n(n):
    assert gini([0] * (n - 1) + [7]) == pytest.approx((n - 1) / n)


def test_gini_of_empty_or_all_zero_is_zero():
    assert gini([]) == 0.0
    assert gini([0, 0, 0]) == 0.0


def test_gini_hand_example():
    # sorted [1, 3, 4, 10], weights 2i-n-1 = -3, -1, 1, 3 -> (-3 - 3 + 4 + 30) / (4 * 18) = 28/72
    assert gini([10, 1, 4, 3]) == pytest.approx(28 / 72)


def test_top_k_count_uses_ceil_with_a_floor_of_one():
    assert [top_k_count(77, f) for f in (0.01, 0.05, 0.10)] == [1, 4, 8]  # the reference's 77-country case
    assert [top_k_count(238, f) for f in (0.01, 0.05, 0.10)] == [3, 12, 24]
    assert top_k_count(70, 0.10) == 7
    assert top_k_count(3, 0.01) == 1


def test_top_share_ceil_rule_hand_example():
    values = list(range(1, 21))  # 20 values summing to 210
    assert top_share(values, 0.05) == pytest.approx(20 / 210)  # k = 1
    assert top_share(values, 0.10) == pytest.approx(39 / 210)  # k = 2
    assert top_share(values, 0.12) == pytest.approx(57 / 210)  # k = ceil(2.4) = 3
    assert top_share([], 0.10) == 0.0
    assert top_share(np.ones(77), 0.10) == pytest.approx(8 / 77)  # k = ceil(7.7) = 8


def concentration_macros():
    """The dbt macros gini() / top_share() of macros/metrics/concentration.sql, rendered as SQL."""
    source = (PROJECT / "macros" / "metrics" / "concentration.sql").read_text(encoding="utf-8")
    rendered = []

    class DuckDBAdapter:  # dbt's adapter.dispatch on DuckDB: the default__ implementation
        @staticmethod
        def dispatch(name, package):
            return getattr(rendered[0], f"default__{name}")

    environment = jinja2.Environment()
    environment.globals.update(adapter=DuckDBAdapter, **{"return": lambda value: value})
    rendered.append(environment.from_string(source).module)
    return rendered[0]


@pytest.mark.parametrize("values", [[5, 5, 5, 5], [0, 0, 0, 7], [10, 1, 4, 3], list(range(1, 239)),
                                    np.random.default_rng(3).integers(1, 5000, size=233).tolist()])
def test_python_gini_and_top_share_equal_the_sql_macros(values):
    macros = concentration_macros()
    fractions = (0.01, 0.05, 0.10)
    sql = ", ".join([str(macros.gini("x"))] + [str(macros.top_share("x", f)) for f in fractions])
    row = duckdb.sql(f"select {sql} from (select unnest(?::bigint[]) as x)", params=[values]).fetchone()
    assert row[0] == pytest.approx(gini(values), rel=1e-12, abs=1e-15)
    for got, fraction in zip(row[1:], fractions):
        assert got == pytest.approx(top_share(values, fraction), rel=1e-12)


# ----------------------------------------------------------------------------- catalogue metrics


def hand_catalogue():
    """4 merchants, 18 outlets:
    1: FR home, 1 site in FR           (single-site)
    2: FR home, 3 sites in FR
    3: DE home, 2 in DE + 2 in AT      (2 mismatched)
    4: BR home, 6 in BR + 3 AR + 1 CL  (4 mismatched)
    """
    rows = [(1, "FR", "FR", 1)]
    rows += [(2, "FR", "FR", i) for i in (1, 2, 3)]
    rows += [(3, "DE", "DE", i) for i in (1, 2)] + [(3, "DE", "AT", i) for i in (1, 2)]
    rows += [(4, "BR", "BR", i) for i in range(1, 7)] + [(4, "BR", "AR", i) for i in (1, 2, 3)] + [(4, "BR", "CL", 1)]
    frame = pd.DataFrame(rows, columns=["merchant_id", "home_country_iso", "legal_country_iso", "site_order"])
    return frame.astype({"merchant_id": "int64", "site_order": "int32"})


def test_catalogue_metrics_known_answers():
    metrics = outlet_catalogue_metrics(hand_catalogue())
    assert metrics["merchant_count"] == 4
    assert metrics["outlet_count"] == 18
    assert metrics["single_site_share"] == 0.25
    assert metrics["median_outlets_per_merchant"] == 3.5
    assert metrics["median_outlets_per_multisite_merchant"] == 4.0
    assert metrics["top10_outlet_share"] == pytest.approx(10 / 18)  # k = ceil(0.4) = 1 merchant
    assert metrics["gini_outlets_per_merchant"] == pytest.approx(28 / 72)
    assert metrics["home_legal_mismatch_rate"] == pytest.approx(6 / 18)
    assert metrics["multi_country_legal_spread"] == 0.5
    # 4 merchants -> decile labels 0, 2, 5, 7: bottom = merchant 1 (0%), top = merchant 4 (4/10)
    assert metrics["size_gradient_pp"] == pytest.approx(40.0)
    assert metrics["no_identity_anomalies"] is True
    assert metrics["required_outputs_present"] is True
    assert "phi_cv" not in metrics


def test_phi_metrics_known_answers():
    assert phi_metrics([2.0, 2.0, 2.0]) == {"phi_cv": 0.0, "phi_p95_p05_ratio": 1.0}
    # mean 2.5, pstdev sqrt(1.25); q05 = 1.15 and q95 = 3.85 by linear interpolation
    result = phi_metrics([1.0, 2.0, 3.0, 4.0])
    assert result["phi_cv"] == pytest.approx(1.25**0.5 / 2.5)
    assert result["phi_p95_p05_ratio"] == pytest.approx(3.85 / 1.15)
    assert outlet_catalogue_metrics(hand_catalogue(), phi=[1.0, 2.0, 3.0, 4.0])["phi_cv"] == pytest.approx(0.4472, abs=1e-4)


def test_identity_anomalies_detects_gaps_duplicates_and_two_homes():
    assert identity_anomalies(hand_catalogue()) == []
    gap = hand_catalogue()
    gap.loc[gap.index[-1], "site_order"] = 2  # CL now has site_order 2 only
    assert any("contiguous" in problem for problem in identity_anomalies(gap))
    duplicate = pd.concat([hand_catalogue(), hand_catalogue().head(1)])
    assert any("duplicate" in problem for problem in identity_anomalies(duplicate))
    two_homes = hand_catalogue()
    two_homes.loc[two_homes.index[-1], "home_country_iso"] = "AR"
    assert any("home country" in problem for problem in identity_anomalies(two_homes))
    assert outlet_catalogue_metrics(gap)["no_identity_anomalies"] is False


def test_empty_or_incomplete_catalogue_reports_missing_outputs():
    assert outlet_catalogue_metrics(hand_catalogue().drop(columns="home_country_iso")) == {
        "required_outputs_present": False,
        "no_identity_anomalies": False,
    }
    assert outlet_catalogue_metrics(hand_catalogue().head(0))["required_outputs_present"] is False


# ----------------------------------------------------------------------------- freeze guard


@pytest.fixture(scope="module")
def bands():
    return load_bands()


def passing_metrics():
    """Every catalogue-supported metric comfortably inside its B band (candidate-set metrics absent)."""
    return {
        "single_site_share": 0.30,
        "median_outlets_per_merchant": 8.0,
        "top10_outlet_share": 0.40,
        "gini_outlets_per_merchant": 0.55,
        "home_legal_mismatch_rate": 0.17,
        "size_gradient_pp": 20.0,
        "multi_country_legal_spread": 0.30,
        "phi_cv": 0.12,
        "phi_p95_p05_ratio": 1.5,
        "no_identity_anomalies": True,
        "required_outputs_present": True,
    }


def test_guard_passes_identical_candidate(bands):
    result = freeze_guard(passing_metrics(), passing_metrics(), bands)
    assert result["status"] == "PASS"
    assert result["reasons"] == []
    assert result["eligible_B"] is True
    assert result["b_pass_count"] == result["authority_b_pass_count"] == 11
    assert result["b_pass_share"] == 1.0
    assert set(result["not_reported"]) == {"candidate_count_median", "spearman_candidates_realized", "realization_ratio_median"}


def test_guard_fails_on_a_hard_gate(bands):
    candidate = {**passing_metrics(), "phi_p95_p05_ratio": 1.2}
    result = freeze_guard(candidate, passing_metrics(), bands)
    assert result["status"] == "FAIL"
    assert result["eligible_B"] is False
    assert "hard gate failed: phi_p95_p05_ratio=1.2" in result["reasons"]


def test_guard_eligibility_flips_at_seventy_percent_of_b_bands(bands):
    # 8 of 11 reported bands pass (0.727) -> eligible; 7 of 11 (0.636) -> not. Authority = candidate,
    # so no regression rule fires.
    eight = {**passing_metrics(), "median_outlets_per_merchant": 30.0, "home_legal_mismatch_rate": 0.4,
             "multi_country_legal_spread": 0.6}
    seven = {**eight, "top10_outlet_share": 0.6}
    assert freeze_guard(eight, eight, bands)["status"] == "PASS"
    result = freeze_guard(seven, seven, bands)
    assert result["status"] == "FAIL"
    assert result["eligible_B"] is False
    assert result["reasons"] == ["B-band pass share 0.636 < 0.7"]


def test_guard_fails_when_an_authority_b_pass_regresses_even_if_the_count_holds(bands):
    authority = {**passing_metrics(), "home_legal_mismatch_rate": 0.30}  # authority fails mismatch
    candidate = {**passing_metrics(), "multi_country_legal_spread": 0.50}  # candidate fails spread instead
    result = freeze_guard(candidate, authority, bands)
    assert result["eligible_B"] is True
    assert result["b_pass_count"] == result["authority_b_pass_count"]
    assert result["reasons"] == ["authority B pass regressed: multi_country_legal_spread"]


def test_guard_fails_when_the_b_pass_count_drops(bands):
    candidate = {**passing_metrics(), "size_gradient_pp": 2.0}
    result = freeze_guard(candidate, passing_metrics(), bands)
    assert result["status"] == "FAIL"
    assert "B-pass count 10 < authority 11" in result["reasons"]


def test_guard_fails_when_an_authority_hard_gate_goes_missing(bands):
    authority = {**passing_metrics(), "candidate_count_median": 9.0}
    result = freeze_guard(passing_metrics(), authority, bands)
    assert "authority hard gate regressed: candidate_count_median" in result["reasons"]
    assert result["status"] == "FAIL"


@pytest.mark.parametrize("metric", ["top10_outlet_share", "gini_outlets_per_merchant"])
def test_guard_allows_at_most_point_zero_one_worse_concentration(bands, metric):
    authority = passing_metrics()
    slightly_worse = {**authority, metric: authority[metric] + 0.009}
    too_much_worse = {**authority, metric: authority[metric] + 0.011}
    assert freeze_guard(slightly_worse, authority, bands)["status"] == "PASS"
    result = freeze_guard(too_much_worse, authority, bands)
    assert result["status"] == "FAIL"
    assert result["eligible_B"] is True
    assert len(result["reasons"]) == 1 and result["reasons"][0].startswith(metric)
    # lower concentration is never a regression
    assert freeze_guard({**authority, metric: authority[metric] - 0.03}, authority, bands)["status"] == "PASS"


def test_b_plus_bands_are_inside_b_bands(bands):
    for name, spec in bands["metrics"].items():
        if isinstance(spec["B"], bool):
            continue
        (b_low, b_high), (plus_low, plus_high) = spec["B"], spec["B_plus"]
        assert b_low is None or (plus_low is not None and plus_low >= b_low), name
        assert b_high is None or (plus_high is not None and plus_high <= b_high), name


def test_band_passes_missing_metric_fails(bands):
    passes = band_passes(copy.deepcopy(passing_metrics()), bands, "B")
    assert passes["candidate_count_median"] is False
    assert passes["single_site_share"] is True
