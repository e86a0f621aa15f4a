"""Hostile inputs refused on the spark target with the same named error as on DuckDB: the same failing model
and the same line (file, column, problem) that the CLI shows, not a Spark or worker traceback.

Phase 2 (cases of tests/python/criticality/test_hostile_inputs.py): the two Spark-only routes of pass 1, a
problem found by the kernel inside a partition and the grouped duplicate check (a Spark aggregation).
Segment 1B: a user 1A catalogue with a code outside ISO 3166 (a case of tests/python/sites/test_catalogue.py),
and a jitter policy no coastal site can meet (E613), raised inside the executors' per-(seed, country) step."""

import re
import shutil

import pandas as pd
import pytest

from gatehouse.dbt_invoke import _essential
from gatehouse.sites.inputs import policy

from .builds import dbt_build
from .conftest import write_spike_inputs

KEY = ["model_role", "gain", "seq_id", "layer", "token", "unit"]
SELECT = ["+int_tail_histograms"]  # pass 1 over the events, with what it reads


def one_row(frame, column, value, row=5):
    return frame.assign(**{column: frame[column].where(frame.index != row, value).astype(frame[column].dtype)})


CASES = {
    # a row outside the lattice: found by the pass-1 kernel inside a Spark partition
    "unit_at_d_ff": (lambda e: one_row(e, "unit", 1024), "int_tail_histograms",
                     r"events\.parquet: column unit: 1 value\(s\) outside the lattice .*0\.\.1023 \(d_ff = 1024"),
    # a duplicated event stored out of order: the grouped duplicate check (a Spark aggregation)
    "duplicate_event": (lambda e: pd.concat([e, e.iloc[[7]]]).sort_values(KEY)[
                            ["z", "unit", "token", "layer", "seq_id", "gain", "model_role"]],
                        "int_tail_histograms",
                        r"events\.parquet: columns model_role/gain/seq_id/token/layer/unit: duplicate event "
                        r".* appears 2 times"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_the_same_named_error_on_spark(case, small_spikes, output_dir):
    mutate_events, model, pattern = CASES[case]
    events, summaries = small_spikes
    events, summaries = events[events.model_role == "INSTRUCT"], summaries[summaries.model_role == "INSTRUCT"]
    events, summaries = events.reset_index(drop=True), summaries.reset_index(drop=True)
    variables = {**write_spike_inputs(output_dir / "hostile" / case, mutate_events(events.copy()), summaries),
                 "model_roles": ["INSTRUCT"]}
    assert_same_named_error(output_dir / "hostile" / case, variables, SELECT, model, pattern)


def test_bad_catalogue_gives_the_same_named_error_on_spark(output_dir):
    folder = output_dir / "hostile" / "catalogue_unknown_iso"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(1, "DE", "DE", 1), (1, "DE", "FR", 1), (2, "LU", "LU", 1), (3, "ZZ", "ZZ", 1)]
    pd.DataFrame(rows, columns=["merchant_id", "home_country_iso", "legal_country_iso", "site_order"]).to_parquet(
        folder / "catalogue.parquet", index=False)
    assert_same_named_error(folder, {"sites_outlet_catalogue_path": str(folder / "catalogue.parquet")},
                            ["+raw_1a__outlet_catalogue"], "raw_1a__outlet_catalogue",
                            r"E302_UNKNOWN_ISO: .*catalogue\.parquet: column legal_country_iso .*\['ZZ'\]")


def test_exhausted_jitter_names_the_same_first_failing_site_on_spark(output_dir):
    """One attempt and no refinement: coastal sites fail in many (seed, country) pairs at once. Both engines
    must name the first failing pair (seed 42 before 7, as given, then countries in order) and its first site."""
    folder = output_dir / "hostile" / "jitter_exhausted"
    shutil.rmtree(folder / "policy", ignore_errors=True)
    shutil.copytree(policy.default_policy_dir(), folder / "policy")
    jitter = folder / "policy" / "jitter.yaml"
    text = jitter.read_text()
    for line in ("max_attempts: 64", "refine_after_attempts: 8", 'policy_version: "jitter.v2"'):
        assert line in text, f"{jitter}: expected {line!r} in the default jitter policy"
    jitter.write_text(text.replace("max_attempts: 64", "max_attempts: 1")
                      .replace("refine_after_attempts: 8", "refine_after_attempts: 0")
                      .replace('policy_version: "jitter.v2"', 'policy_version: "jitter.test-exhausted"'))
    assert_same_named_error(folder, {"sites_policy_dir": str(folder / "policy"), "sites_seeds": [42, 7]},
                            ["+s6_site_jitter"], "s6_site_jitter",
                            r"E613_RESAMPLE_EXHAUSTED: jitter exhausted for merchant_id=\d+ country_iso=[A-Z]{2} "
                            r"site_order=\d+ tile_id=\d+ after 1 attempt\(s\)")


def assert_same_named_error(folder, variables: dict, select: list[str], model: str, pattern: str) -> None:
    errors = {}
    for engine in ("duckdb", "spark"):
        build = dbt_build(engine, folder / engine, variables, select)
        failed = build.failed()
        assert build.returncode != 0 and failed, f"{engine} accepted {folder.name}:\n{build.output[-2000:]}"
        assert [result["unique_id"].split(".")[-1] for result in failed] == [model], (engine, failed)
        errors[engine] = _essential(failed[0]["message"])
    assert re.search(pattern, errors["duckdb"]), errors["duckdb"]
    assert errors["spark"] == errors["duckdb"]
    assert not re.search(r"Py4J|PythonException|Traceback|org\.apache", errors["spark"])
