"""The comparison behind `make test-spark` finds what it must: a float off by a known relative amount, a changed
hash, a missing row; and ignores row order and DuckDB's ENUM (categorical) columns."""

import numpy as np
import pandas as pd

from .compare import compare_table, relative_difference

REFERENCE = pd.DataFrame({"key": pd.Categorical(["a", "b", "c"]), "n": np.array([1, 2, 3], dtype=np.int32),
                          "x": [1.0, -2.0, 0.0], "digest": ["d1", "d2", "d3"]})


def worst(differences):
    return {item.column: item.max_relative for item in differences}


def test_relative_difference_worked_example():
    difference = relative_difference(np.array([3.0, 0.0, np.nan, np.inf]), np.array([3.0 + 3e-9, 0.0, np.nan, np.inf]))
    assert np.isclose(difference[0], 1e-9, rtol=1e-6) and difference[1:].tolist() == [0.0, 0.0, 0.0]
    assert relative_difference(np.array([0.0, np.nan]), np.array([1e-300, 1.0])).tolist() == [1.0, np.inf]


def test_same_rows_in_another_order_and_plain_strings_match():
    shuffled = REFERENCE.iloc[[2, 0, 1]].astype({"key": object, "n": np.int64})
    assert set(worst(compare_table("t", REFERENCE, shuffled)).values()) == {0.0}


def test_a_float_off_by_2e_12_a_changed_hash_and_a_missing_row_are_found():
    off = REFERENCE.assign(x=[1.0, -2.0 * (1 + 2e-12), 0.0])
    assert np.isclose(worst(compare_table("t", REFERENCE, off))["x"], 2e-12, rtol=1e-3)
    assert worst(compare_table("t", REFERENCE, REFERENCE.assign(digest=["d1", "d2", "dX"])))["digest"] == np.inf
    assert set(worst(compare_table("t", REFERENCE, REFERENCE.iloc[:2])).values()) == {np.inf}
