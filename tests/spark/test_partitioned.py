"""gatehouse.spark.partitioned.per_group in a local Spark session: the union of the step over the groups,
and a named error raised in some groups reported for the first of them by rank, whichever task ran first."""

import os
import sys

import pandas as pd
import pytest

pyspark_sql = pytest.importorskip("pyspark.sql")

from gatehouse.spark.partitioned import GroupStepError, per_group  # noqa: E402

ROWS = pd.DataFrame({"seed": [42, 42, 42, 7, 7, 7], "country": ["DE", "FR", "LU"] * 2, "n": [0, 1, 2, 3, 4, 5]})


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the workers need this interpreter's packages
    session = (pyspark_sql.SparkSession.builder.master("local[2]").appName("gatehouse-test-partitioned")
               .config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false").getOrCreate())
    yield session
    session.stop()


def step_failing_for(failing: set):
    def step(rows):
        key = (int(rows["seed"].iloc[0]), rows["country"].iloc[0])
        if key in failing:
            raise ValueError(f"E999_TEST_FAILURE: group {key}")
        return rows.assign(doubled=rows["n"] * 2)
    return step


def rank_seeds(*seeds):
    return lambda group: (seeds.index(int(group["seed"])), group["country"])


def test_the_union_of_the_groups(spark):
    result = per_group(spark.createDataFrame(ROWS), ["seed", "country"], step_failing_for(set()), "n").toPandas()
    assert sorted(zip(result["n"], result["doubled"])) == [(n, 2 * n) for n in range(6)]
    assert "__gatehouse_group_problem" not in result.columns


def test_the_first_failing_group_by_rank_is_named(spark):
    step = step_failing_for({(42, "LU"), (42, "FR"), (7, "DE")})  # the sample group (n = 0: 42, DE) passes
    with pytest.raises(GroupStepError, match=r"^E999_TEST_FAILURE: group \(42, 'FR'\)$"):
        per_group(spark.createDataFrame(ROWS), ["seed", "country"], step, "n", group_rank=rank_seeds(42, 7))


def test_a_failing_sample_group_still_names_the_first_failing_group(spark):
    step = step_failing_for({(42, "DE"), (7, "FR")})  # the sample group fails, but seed 7 ranks first
    with pytest.raises(GroupStepError, match=r"^E999_TEST_FAILURE: group \(7, 'FR'\)$"):
        per_group(spark.createDataFrame(ROWS), ["seed", "country"], step, "n", group_rank=rank_seeds(7, 42))
