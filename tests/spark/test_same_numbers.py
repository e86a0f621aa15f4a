"""Both pipelines built on the spark target and on DuckDB from the same small inputs: every table the DuckDB
build writes exists on Spark with the same rows, float columns within 1e-12 relative, all others equal."""

import shutil

import pytest

from .builds import dbt_build
from .compare import compare_table, markdown_report
from .conftest import ROLES, write_spike_inputs

TOLERANCE = 1e-12
SELECT = ["criticality"]


@pytest.fixture(scope="module")
def builds(small_spikes, output_dir):
    events, summaries = small_spikes
    variables = {**write_spike_inputs(output_dir / "inputs", events, summaries), "model_roles": list(ROLES)}
    built = {}
    for engine in ("duckdb", "spark"):
        shutil.rmtree(output_dir / engine, ignore_errors=True)
        built[engine] = dbt_build(engine, output_dir / engine, variables, SELECT)
    return built


def test_both_builds_pass_every_gate(builds):
    for engine, build in builds.items():
        failed = [f"{result['unique_id']}: {result['message']}" for result in build.failed()]
        assert build.returncode == 0 and not failed, f"{engine}: {failed or build.output[-3000:]}"


def test_every_table_has_the_same_numbers_on_spark(builds, output_dir, capsys):
    reference, spark = builds["duckdb"].tables(), builds["spark"].tables()
    assert reference, builds["duckdb"].output[-3000:]
    missing = sorted(set(reference) - set(spark))
    differences = [difference for name, table in reference.items() if name in spark
                   for difference in compare_table(name, table, spark[name])]
    report = markdown_report(differences, TOLERANCE, "Spark vs DuckDB, tables of `dbt build -s criticality`")
    if missing:
        report += "\nMissing on Spark: " + ", ".join(missing) + "\n"
    (output_dir / "spark_comparison.md").write_text(report)
    with capsys.disabled():
        print(f"\n{report}\n(written to {output_dir / 'spark_comparison.md'})")
    assert not missing
    assert all(difference.within(TOLERANCE) for difference in differences), report
