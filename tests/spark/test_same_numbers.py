"""Both pipelines built on the spark target and on DuckDB from the same small inputs: every table the DuckDB
build writes exists on Spark with the same rows, float columns within 1e-12 relative, all others (keys, labels,
hashes such as the S9 egress checksums) equal. Criticality runs on the small spikes of conftest.py, sites on
its embedded default (Natural Earth + GeoNames, the 1A surrogate, the four certification seeds)."""

import shutil

import pytest

from .builds import dbt_build
from .compare import compare_table, markdown_report
from .conftest import ROLES, write_spike_inputs

TOLERANCE = 1e-12
PIPELINES = ("criticality", "sites")


def pipeline_variables(pipeline: str, small_spikes, output_dir) -> dict:
    if pipeline == "sites":
        return {}
    events, summaries = small_spikes
    return {**write_spike_inputs(output_dir / "inputs", events, summaries), "model_roles": list(ROLES)}


# one xdist group per pipeline: `make test-spark` (-n 2 --dist loadgroup) builds the two on two workers
@pytest.fixture(scope="module", params=[pytest.param(name, marks=pytest.mark.xdist_group(name)) for name in PIPELINES])
def builds(request, small_spikes, output_dir):
    pipeline = request.param
    variables = pipeline_variables(pipeline, small_spikes, output_dir)
    built = {}
    for engine in ("duckdb", "spark"):
        folder = output_dir / pipeline / engine
        shutil.rmtree(folder, ignore_errors=True)
        built[engine] = dbt_build(engine, folder, variables, [pipeline])
    return pipeline, built


def test_both_builds_pass_every_gate(builds):
    _, built = builds
    for engine, build in built.items():
        failed = [f"{result['unique_id']}: {result['message']}" for result in build.failed()]
        assert build.returncode == 0 and not failed, f"{engine}: {failed or build.output[-3000:]}"


def test_every_table_has_the_same_numbers_on_spark(builds, output_dir, capsys):
    pipeline, built = builds
    reference, spark = built["duckdb"].tables(), built["spark"].tables()
    assert reference, built["duckdb"].output[-3000:]
    missing = sorted(set(reference) - set(spark))
    differences = [difference for name, table in reference.items() if name in spark
                   for difference in compare_table(name, table, spark[name])]
    report = markdown_report(differences, TOLERANCE, f"Spark vs DuckDB, tables of `dbt build -s {pipeline}`")
    if missing:
        report += "\nMissing on Spark: " + ", ".join(missing) + "\n"
    path = output_dir / f"spark_comparison_{pipeline}.md"
    path.write_text(report)
    with capsys.disabled():
        print(f"\n{report}\n(written to {path})")
    assert not missing
    assert all(difference.within(TOLERANCE) for difference in differences), report
