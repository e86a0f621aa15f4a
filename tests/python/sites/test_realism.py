import numpy as np
import pytest

from gatehouse.sites.realism import bootstrap_concentration


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
