"""`gatehouse phase2 select-gstar --metrics` refuses every metrics file it cannot select from honestly:
a named error (the file, the column, the problem), exit 2, no run directory. The content checks live in
int_grid_metrics_restricted, where the build reads the file, so a plain dbt build with var
gstar_metrics_path refuses the same files. And g* ties are settled in exact decimal, not in doubles."""

import csv
import json
from decimal import Decimal
from itertools import combinations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gatehouse.cli import main
from gatehouse.dbt_invoke import dbt_build
from gatehouse.project import canon, project_dir

PROJECT_DIR = project_dir()
from gatehouse.runs import EXIT_FAILED, EXIT_MISSING_DEPENDENCY, RunError

from ..published import published

FIXTURES = PROJECT_DIR / "tests" / "fixtures"


def good_metrics() -> pd.DataFrame:
    """A complete grid for one model role, b_tot rising through 1 (plus a task column, never read)."""
    rows = [{"spike_def_id": spike_def, "target_rate": target_rate, "gain": gain, "b_tot": 0.45 + gain / 2,
             "ppl": 10.0} for spike_def in canon()["spike_defs"] for target_rate in canon()["target_rates"]
            for gain in canon()["gain_grid"]]
    return pd.DataFrame(rows)


def changed(column, value, row=0):
    frame = good_metrics()
    if not isinstance(value, float):  # a NaN stays a NaN, not a null
        frame[column] = frame[column].astype(object)
    frame.at[row, column] = value
    return frame


def repeated_key(b_tot):
    frame = good_metrics()
    return pd.concat([frame, frame.iloc[[5]].assign(b_tot=b_tot)], ignore_index=True)


def float32_rates():
    frame = good_metrics()
    frame["target_rate"] = frame["target_rate"].astype(np.float32)
    return frame


def text_rates():
    frame = good_metrics()
    frame["target_rate"] = frame["target_rate"].map(repr)
    frame.at[0, "target_rate"] = "1e-05 per unit"
    return frame


def write(frame):
    return lambda path: frame.to_parquet(path, index=False)


def write_nan(frame):
    """Through pyarrow without pandas semantics: a NaN stays a NaN (to_parquet writes null)."""
    return lambda path: pq.write_table(pa.table({name: pa.array(frame[name].tolist()) for name in frame}), path)


def write_bytes(data):
    return lambda path: path.write_bytes(data)


# (id, writer, extra CLI arguments, exit code, fragments the message must contain besides the file name)
CASES = [
    ("unknown_spike_def", write(changed("spike_def_id", "SPIKE_BOGUS")), [], EXIT_FAILED,
     ["column spike_def_id", "unknown spike_def_id", "SPIKE_BOGUS"]),
    ("non_canonical_target_rate", write(changed("target_rate", 3e-05)), [], EXIT_FAILED,
     ["column target_rate", "non-canonical target_rate", "3e-05"]),
    ("float32_target_rates", write(float32_rates()), [], EXIT_FAILED,
     ["column target_rate", "non-canonical target_rate"]),
    ("conflicting_duplicate_key", write(repeated_key(0.123)), [], EXIT_FAILED,
     ["columns model_role, spike_def_id, target_rate, gain", "conflicting b_tot", "0.123"]),
    ("unknown_model_role", write(good_metrics().assign(model_role="DEVELOPER")), [], EXIT_FAILED,
     ["column model_role", "unknown model_role", "DEVELOPER"]),
    ("gain_not_in_grid", write(changed("gain", 0.75)), [], EXIT_FAILED, ["column gain", "0.75", "not in"]),
    ("nan_b_tot", write_nan(changed("b_tot", float("nan"))), [], EXIT_FAILED, ["column b_tot", "non-finite"]),
    ("infinite_b_tot", write(changed("b_tot", float("inf"))), [], EXIT_FAILED, ["column b_tot", "non-finite"]),
    ("negative_b_tot", write(changed("b_tot", -0.5)), [], EXIT_FAILED, ["column b_tot", "outside [0, 1000)"]),
    ("missing_b_tot_column", write(good_metrics().drop(columns="b_tot")), [], EXIT_FAILED,
     ["missing column(s) b_tot"]),
    ("text_in_target_rate", write(text_rates()), [], EXIT_FAILED,
     ["column target_rate", "not DOUBLE"]),
    ("null_spike_def", write(changed("spike_def_id", None)), [], EXIT_FAILED,
     ["column spike_def_id", "null value"]),
    ("zero_rows", write(good_metrics().iloc[:0]), [], EXIT_FAILED, ["no rows"]),
    ("zero_byte_file", write_bytes(b""), [], EXIT_FAILED, ["not a readable parquet file"]),
    ("csv_renamed_to_parquet", lambda path: good_metrics().to_csv(path, index=False), [], EXIT_FAILED,
     ["not a readable parquet file"]),
    ("dep_that_does_not_exist_with_metrics", write(good_metrics()), ["--dep", "RUN_S02_000000000000"], EXIT_FAILED,
     ["--dep RUN_S02_000000000000", "--metrics", "give one"]),
]




@pytest.mark.parametrize("case, writer, extra, exit_code, fragments", CASES, ids=[case[0] for case in CASES])
def test_bad_metrics_are_refused_and_nothing_is_published(tmp_path, capsys, case, writer, extra, exit_code,
                                                         fragments):
    path = tmp_path / f"{case}.parquet"
    writer(path)
    runs_dir = tmp_path / "runs"
    code = main(["phase2", "select-gstar", "--runs-dir", str(runs_dir), "--metrics", str(path), *extra])
    error = capsys.readouterr().err
    assert code == exit_code, error
    assert path.name in error and all(fragment in error for fragment in fragments), error
    assert "Traceback" not in error
    assert published(runs_dir) == []


def test_a_dep_that_does_not_exist_is_a_missing_dependency(tmp_path, capsys):
    """Alone, --dep names the run it needs: exit 3 (README: missing dependency), not a silent fallback."""
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    code = main(["phase2", "select-gstar", "--runs-dir", str(runs_dir), "--dep", "RUN_S02_000000000000"])
    error = capsys.readouterr().err
    assert code == EXIT_MISSING_DEPENDENCY
    assert "--dep RUN_S02_000000000000" in error and "no completed gain-grid run" in error
    assert published(runs_dir) == []


def test_a_plain_dbt_build_refuses_the_same_file(tmp_path):
    """The check sits in the model that reads the file: dbt build --vars '{gstar_metrics_path: ...}'."""
    path = tmp_path / "metrics.parquet"
    frame = repeated_key(0.123)
    frame.at[0, "spike_def_id"] = "SPIKE_X"
    frame.to_parquet(path, index=False)
    with pytest.raises(RunError) as refused:
        dbt_build(["+int_grid_metrics_restricted"], {"gstar_metrics_path": str(path)}, tmp_path / "dev.duckdb",
                  tmp_path / "target")
    message = str(refused.value)
    assert "int_grid_metrics_restricted" in message and str(path) in message
    assert "column spike_def_id: unknown spike_def_id(s) [SPIKE_X]" in message  # every problem, in one message
    assert "conflicting b_tot" in message


def test_repeated_identical_rows_count_once(tmp_path):
    """The same key with the same b_tot is not a conflict, and it is not a tie with itself."""
    frame = good_metrics()
    frame = pd.concat([frame, frame[frame.gain == 1.0]], ignore_index=True)
    frame["b_tot"] = np.where(frame.gain == 1.0, 1.0, 0.5)
    frame.to_parquet(tmp_path / "metrics.parquet", index=False)
    run_dir = main_ok(tmp_path / "runs", tmp_path / "metrics.parquet")
    rows = json.loads((run_dir / "results" / "gstar.json").read_text())["by_condition"].values()
    assert {(row["gstar"], row["n_tied"], row["tie_break_applied"]) for row in rows} == {(1.0, 1, False)}


def main_ok(runs_dir, metrics, model_role="INSTRUCT"):
    assert main(["phase2", "select-gstar", "--runs-dir", str(runs_dir), "--metrics", str(metrics),
                 "--model-role", model_role]) == 0
    (run_dir,) = [path for path in runs_dir.iterdir() if path.name.startswith("RUN_S02B_")]
    return run_dir


# --- g* tie-break in exact decimal over the boundary pairs of the canonical grid -------------------------

# d values whose 1 - d and 1 + d are not equally far from 1 as doubles (e.g. |1.15 - 1| = 0.1499999999999999
# but |0.85 - 1| = 0.15000000000000002), in both directions.
MISORDERING_D = ("0.15", "0.1", "0.13", "0.07", "0.17", "0.35", "0.4", "0.09", "0.11")


def float_rule(curve):
    """The rule as the model computed it before: distances as doubles."""
    best = min(abs(b_tot - 1.0) for _, b_tot in curve)
    tied = [gain for gain, b_tot in curve if abs(b_tot - 1.0) == best]
    return min(tied, key=lambda gain: (abs(gain - 1.0), gain))


def decimal_rule(curve):
    """The rule on the decimals the numbers were written as: |b_tot - 1|, then |g - 1|, then the smaller g."""
    def distance(value):
        return abs(Decimal(repr(value)) - 1)

    best = min(distance(b_tot) for _, b_tot in curve)
    tied = [gain for gain, b_tot in curve if distance(b_tot) == best]
    return min(tied, key=lambda gain: (distance(gain), gain)), len(tied)


def pair_curve(grid, low, high, d, direction):
    """b_tot = 1 - direction*d at grid[low], 1 + direction*d at grid[high]; every other gain farther from 1."""
    values = []
    for index, gain in enumerate(grid):
        if index == low:
            offset = -d
        elif index == high:
            offset = d
        elif index > high:
            offset = d + Decimal("0.05") * (index - high)
        else:
            offset = -(d + Decimal("0.05") * abs(index - low))
        values.append((gain, float(1 + direction * offset)))
    return values


def boundary_pairs():
    """Every pair of canonical grid gains around a crossing, with d and the direction of the curve chosen so
    that doubles pick the other gain than the rule; plus the issue's example (0.75 at 0.85, 1.25 at 1.15,
    an exact tie in doubles too, then |0.85 - 1| > |1.15 - 1| as doubles). (label, curve) in a fixed order."""
    grid = canon()["gain_grid"]
    cases = [("issue_0.85_1.15_d0.25", pair_curve(grid, grid.index(0.85), grid.index(1.15), Decimal("0.25"), 1))]
    for number, (low, high) in enumerate(combinations(range(len(grid)), 2)):
        chosen = None
        for attempt in range(len(MISORDERING_D)):
            d = Decimal(MISORDERING_D[(number + attempt) % len(MISORDERING_D)])
            for direction in (1, -1):
                curve = pair_curve(grid, low, high, d, direction)
                if float_rule(curve) != decimal_rule(curve)[0]:
                    chosen = (f"pair_{grid[low]}_{grid[high]}_d{d}_{'up' if direction == 1 else 'down'}", curve)
                    break
            if chosen:
                break
        assert chosen, (grid[low], grid[high])
        cases.append(chosen)
    return cases


def fixture_rows():
    given = [{"model_role": "INSTRUCT", "spike_def_id": label, "target_rate": "1e-05", "gain": repr(gain),
              "b_tot": repr(b_tot)} for label, curve in boundary_pairs() for gain, b_tot in curve]
    expected = []
    for label, curve in boundary_pairs():
        gstar, n_tied = decimal_rule(curve)
        expected.append({"model_role": "INSTRUCT", "spike_def_id": label, "target_rate": "1e-05",
                         "gstar": repr(gstar), "n_tied": str(n_tied), "tie_break_applied": "true"})
    return given, expected


def write_fixtures():
    """Rewrites the dbt unit test's fixtures (tests/fixtures/gstar_boundary_pairs_*.csv) from boundary_pairs()."""
    for name, rows in zip(("metrics", "expected"), fixture_rows()):
        with open(FIXTURES / f"gstar_boundary_pairs_{name}.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)


def test_boundary_pairs_misorder_in_doubles_and_the_unit_test_fixtures_hold_them():
    """Every case would pick the wrong gain with double distances (so the tests below test something), and
    the dbt unit test gstar_boundary_pairs_tie_in_exact_decimal reads exactly these cases."""
    cases = boundary_pairs()
    assert len(cases) == 1 + len(canon()["gain_grid"]) * (len(canon()["gain_grid"]) - 1) // 2
    for label, curve in cases:
        gstar, n_tied = decimal_rule(curve)
        assert float_rule(curve) != gstar and n_tied == 2, label
    assert dict(cases)["issue_0.85_1.15_d0.25"] and decimal_rule(dict(cases)["issue_0.85_1.15_d0.25"])[0] == 0.85
    for name, rows in zip(("metrics", "expected"), fixture_rows()):
        with open(FIXTURES / f"gstar_boundary_pairs_{name}.csv", newline="") as handle:
            assert list(csv.DictReader(handle)) == rows, f"regenerate with write_fixtures() ({name})"


CONDITIONS = [(role, spike_def, target_rate) for role in canon()["model_roles"] for spike_def in canon()["spike_defs"]
              for target_rate in canon()["target_rates"]]
CHUNKS = range(-(-len(boundary_pairs()) // len(CONDITIONS)))


@pytest.mark.parametrize("chunk", CHUNKS)
def test_boundary_pairs_through_select_gstar_give_the_rule_answer(tmp_path, chunk):
    """End to end, model and gate C-GS-3: each canonical condition (both model roles in one metrics file)
    carries one boundary-pair curve; the run passes its gates and g* is the decimal rule's answer."""
    cases = boundary_pairs()[chunk * len(CONDITIONS):(chunk + 1) * len(CONDITIONS)]
    rows, expected = [], {}
    for (role, spike_def, target_rate), (label, curve) in zip(CONDITIONS, cases):
        expected[(role, spike_def, target_rate)] = (decimal_rule(curve)[0], label)
        rows += [{"model_role": role, "spike_def_id": spike_def, "target_rate": target_rate, "gain": gain,
                  "b_tot": b_tot} for gain, b_tot in curve]
    pd.DataFrame(rows).to_parquet(tmp_path / "pairs.parquet", index=False)
    run_dir = main_ok(tmp_path / "runs", tmp_path / "pairs.parquet")
    record = json.loads((run_dir / "run_record.json").read_text())
    assert any(test["gate"] == "C-GS-3" and test["status"] == "pass" for test in record["dbt"]["tests"])
    con = duckdb.connect(str(run_dir / "warehouse.duckdb"), read_only=True)
    chosen = {(role, spike_def, target_rate): (gstar, n_tied) for role, spike_def, target_rate, gstar, n_tied in
              con.execute("select model_role, spike_def_id, target_rate, gstar, n_tied from gstar").fetchall()}
    con.close()
    assert set(chosen) == set(expected)
    for key, (gstar, label) in expected.items():
        assert chosen[key] == (gstar, 2), label
    document = json.loads((run_dir / "results" / "gstar.json").read_text())["by_condition"]
    for key, (gstar, label) in expected.items():
        if key[0] == "INSTRUCT":
            assert document[f"{key[1]}|{key[2]!r}"]["gstar"] == gstar, label
