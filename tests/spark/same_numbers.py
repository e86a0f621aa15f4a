"""Both pipelines built on the spark target and on DuckDB from the same small inputs: every table the DuckDB
build writes exists on Spark with the same rows, float columns within 1e-12 relative, all others (keys, labels,
hashes such as the S9 egress checksums) equal. Criticality runs on the small spikes of conftest.py, sites on
its embedded default (Natural Earth + GeoNames, the 1A surrogate, the four certification seeds).

The tests are collected from one module per pipeline (test_same_numbers_<pipeline>.py, which sets PIPELINE),
so that `make test-spark` (pytest -n 2, `--dist loadfile`) builds each pipeline once, on one worker. Not
`--dist loadgroup`: with pytest 9 and xdist 3.8 its group marks are ignored (xdist sets `item._nodeid`, which
pytest 9 no longer reads), and two workers built one pipeline in one folder at the same time, deleting each
other's tables."""

import json
import shutil

import pytest

from .builds import dbt_build
from .compare import compare_table, markdown_report
from .conftest import ROLES, write_spike_inputs

TOLERANCE = 1e-12


def pipeline_variables(pipeline: str, small_spikes, output_dir) -> dict:
    if pipeline == "sites":
        return {}
    events, summaries = small_spikes
    return {**write_spike_inputs(output_dir / "inputs", events, summaries), "model_roles": list(ROLES)}


@pytest.fixture(scope="module")
def builds(request, small_spikes, output_dir):
    pipeline = request.module.PIPELINE
    variables = pipeline_variables(pipeline, small_spikes, output_dir)
    built = {}
    for engine in ("duckdb", "spark"):
        folder = output_dir / pipeline / engine
        shutil.rmtree(folder, ignore_errors=True)
        built[engine] = dbt_build(engine, folder, variables, [pipeline])
    return pipeline, variables, built


def test_both_builds_pass_every_gate(builds):
    _, _, built = builds
    for engine, build in built.items():
        failed = [f"{result['unique_id']}: {result['message']}" for result in build.failed()]
        assert build.returncode == 0 and not failed, f"{engine}: {failed or build.output[-3000:]}"


def test_every_table_has_the_same_numbers_on_spark(builds, output_dir, capsys):
    pipeline, _, built = builds
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


def fixture_rows(unit_test: dict) -> int:
    """Rows of the unit test's dict and csv fixtures (a sql fixture is one select, whatever its length)."""
    return sum(len(given["rows"]) for given in unit_test["given"] if isinstance(given["rows"], list))


def deepest_unit_test(build, pipeline: str) -> str:
    """The name of the pipeline's unit test with the most fixture rows (from the build's manifest)."""
    manifest = json.loads((build.folder / build.artifacts / "manifest.json").read_text())
    tests = [test for test in manifest["unit_tests"].values()
             if test["original_file_path"].startswith(f"models/{pipeline}/")]
    return max(tests, key=lambda test: (fixture_rows(test), test["name"]))["name"]


def test_the_deepest_unit_test_passes_alone_in_a_fresh_spark_session(builds):
    """Spark's analyzer recurses once per `union all`, and a unit test's fixture is a union of its rows. In a
    fresh JVM (interpreted frames, larger than JIT-compiled ones) gstar's 616-row fixture overflowed the default
    1 MiB thread stack, every time; inside the full build, after a warm-up, it passed. So each pipeline's largest
    fixture runs alone in a new session, after the build made what it reads."""
    pipeline, variables, built = builds
    build = built["spark"]
    name = deepest_unit_test(build, pipeline)
    alone = dbt_build("spark", build.folder, variables, [f"test_name:{name}"], subcommand="test",
                      artifacts="target-alone")
    unit_tests = [result for result in alone.results() if result["unique_id"].startswith("unit_test.")]
    failed = [f"{result['unique_id']}: {result['message'][:1000]}"
              for result in unit_tests if result["status"] != "pass"]
    assert alone.returncode == 0 and len(unit_tests) == 1 and not failed, failed or alone.output[-3000:]
