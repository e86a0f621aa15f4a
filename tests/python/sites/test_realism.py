from pathlib import Path

import numpy as np
import pytest
import yaml

from gatehouse.sites.kernels.realism import GATES_YAML, REGISTRY_CSV, bootstrap_concentration, gate_tests_yaml

PROJECT = Path(__file__).resolve().parents[3]


def test_equal_counts_have_zero_gini_and_tight_intervals():
    table = bootstrap_concentration(np.full(100, 1000), seed=42, reps=200).set_index("metric")
    assert table.loc["country_gini", "value"] == 0.0
    assert table.loc["top1_share", "value"] == pytest.approx(0.01)  # k = ceil(0.01 * 100) = 1
    assert table.loc["country_gini", "ci_high"] < 0.05


def test_one_hot_counts_give_the_known_gini():
    # one active country: over active countries only, Gini = 0 and the top share = 1
    table = bootstrap_concentration(np.array([0, 0, 50]), seed=1, reps=50).set_index("metric")
    assert table.loc["country_gini", "value"] == 0.0 and table.loc["top10_share", "value"] == 1.0


def test_interval_brackets_the_point_estimate_and_is_reproducible():
    counts = np.random.default_rng(0).integers(1, 2000, size=150)
    first = bootstrap_concentration(counts, seed=7, reps=300)
    again = bootstrap_concentration(counts, seed=7, reps=300)
    other = bootstrap_concentration(counts, seed=8, reps=300)
    assert first.equals(again) and not first.equals(other)
    assert (first.ci_low <= first.value).all() and (first.value <= first.ci_high).all()


def test_empty_counts_are_refused():
    with pytest.raises(ValueError, match="at least one site"):
        bootstrap_concentration(np.zeros(3), seed=1)


def test_generated_gate_tests_match_the_registry():
    """The gate YAML is generated from seed realism_metrics: regenerate with `python -m gatehouse.sites.kernels.realism`."""
    registry = (PROJECT / REGISTRY_CSV).read_text(encoding="utf-8")
    assert (PROJECT / GATES_YAML).read_text(encoding="utf-8") == gate_tests_yaml(registry)


def test_every_registry_gate_becomes_one_named_test_with_its_gate_id():
    registry = "\n".join([
        "metric,comparison,core,no_regression,gate_b,threshold_b,gate_bplus,threshold_bplus,baseline,description",
        "a_share,at_least,true,true,G-B-1,0.5,G-BP-1,0.7,,a",
        "b_ratio,at_most,true,false,,,,,2.0,b",
    ])
    tests = yaml.safe_load(gate_tests_yaml(registry))["models"][0]["data_tests"]
    assert [(t["name"], t["config"]["meta"]["gate"], t["arguments"]["row_condition"]) for t in tests] == [
        ("gate_realism_b_a_share", "G-B-1", "gate_id = 'G-B-1'"),
        ("gate_realism_bplus_a_share", "G-BP-1", "gate_id = 'G-BP-1'"),
    ]
    assert "severity" not in tests[0]["config"] and "B+" in tests[1]["config"]["severity"]
