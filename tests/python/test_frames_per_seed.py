"""gatehouse.spark.frames.per_seed_and_country on DuckDB: the per-seed route the 1B steps S4-S6 take, and
the named error it reports (the first failing (seed, country) pair, as the Spark route does)."""

import duckdb
import pandas as pd
import pytest

from gatehouse.spark.frames import is_named_error, per_seed_and_country

ROWS = pd.DataFrame({"seed": [42, 42, 42, 7, 7, 7], "legal_country_iso": ["LU", "DE", "FR"] * 2,
                     "n_sites": [1, 2, 3, 4, 5, 6]})


def step_failing_for(failing: set):
    def step(rows, seed):
        bad = sorted(country for country in rows["legal_country_iso"] if (seed, country) in failing)
        if bad:
            raise ValueError(f"E999_TEST_FAILURE: seed {seed} countries {bad}")
        return rows.assign(doubled=rows["n_sites"] * 2)
    return step


@pytest.fixture
def relation():
    connection = duckdb.connect()
    yield connection.from_df(ROWS)
    connection.close()


def test_every_seed_in_the_given_order(relation):
    result = per_seed_and_country(relation, (7, 42), step_failing_for(set()), sample_order="n_sites")
    assert result["seed"].tolist() == [7, 7, 7, 42, 42, 42]
    assert result["doubled"].tolist() == [8, 10, 12, 2, 4, 6]


def test_a_named_error_reports_the_first_failing_pair(relation):
    # seed 42 is given first; its failing countries are FR and LU, and FR comes first
    step = step_failing_for({(42, "LU"), (42, "FR"), (7, "DE")})
    with pytest.raises(ValueError, match=r"^E999_TEST_FAILURE: seed 42 countries \['FR'\]$"):
        per_seed_and_country(relation, (42, 7), step, sample_order="n_sites")


def test_an_unnamed_error_passes_through_unchanged(relation):
    def step(rows, seed):
        raise KeyError("n_sites")

    with pytest.raises(KeyError):
        per_seed_and_country(relation, (42, 7), step, sample_order="n_sites")


def test_only_coded_messages_are_named_errors():
    assert is_named_error(ValueError("E613_RESAMPLE_EXHAUSTED: jitter exhausted"))
    assert not is_named_error(ValueError("jitter exhausted (E613)"))
    assert not is_named_error(KeyError("E613_RESAMPLE_EXHAUSTED: x"))  # str() of a KeyError is quoted
