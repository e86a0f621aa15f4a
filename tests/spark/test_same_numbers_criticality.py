"""Criticality built on Spark and on DuckDB, every table compared: the tests of same_numbers.py."""

from .same_numbers import (builds, test_both_builds_pass_every_gate,  # noqa: F401 (collected here)
                           test_every_table_has_the_same_numbers_on_spark,
                           test_the_deepest_unit_test_passes_alone_in_a_fresh_spark_session)

PIPELINE = "criticality"
