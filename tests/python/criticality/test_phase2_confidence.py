"""End to end: intervals, both nulls, avalanches, g* annotations and figures of the Phase 2 commands."""

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gatehouse.criticality import figures, phase2, synthetic
from gatehouse.project import canon
from gatehouse.runs import sha256_file


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def test_metrics_carry_intervals_both_nulls_and_avalanches(crossing_runs):
    _, grid_dir, _ = crossing_runs
    metrics = pd.read_parquet(grid_dir / "results" / "metrics.parquet")
    for statistic in ("b_time", "b_depth", "b_tot", "delta_b_tot", "delta_b_tot_shift", "chi"):
        low, high = metrics[f"{statistic}_ci_low"], metrics[f"{statistic}_ci_high"]
        assert np.isfinite(low).all() and (low <= high).all(), statistic
    point = {"b_tot": metrics.b_tot, "delta_b_tot": metrics.delta_b_tot, "chi": metrics.chi}
    for statistic, values in point.items():
        assert ((metrics[f"{statistic}_ci_low"] <= values) & (values <= metrics[f"{statistic}_ci_high"])).all()
    # the synthetic lattice is structured: both nulls lie clearly below the real b_tot
    assert (metrics.delta_b_tot_ci_low > 0).all() and (metrics.delta_b_tot_shift_ci_low > 0).all()
    assert (metrics.n_avalanches > 0).all() and (metrics.n_avalanches_8n <= metrics.n_avalanches).all()
    avalanches = pd.read_parquet(grid_dir / "results" / "avalanches.parquet")
    assert len(avalanches) == metrics.n_avalanches.sum() + metrics.n_avalanches_8n.sum()
    assert set(avalanches.adjacency) == {"4N", "8N"}
    # the second estimator: the crossing preset's token persistence a(g) grows with g, so does MR m
    assert metrics.mr_m_tokens.between(0, 1).all()
    for _, curve in metrics.groupby(["spike_def_id", "target_rate"]):
        assert np.corrcoef(curve.gain, curve.mr_m_tokens)[0, 1] > 0.9


def test_null_marginal_gates_ran_and_passed(crossing_runs):
    _, grid_dir, _ = crossing_runs
    tests = {test["gate"]: test["status"] for test in read_json(grid_dir / "run_record.json")["dbt"]["tests"]
             if test["gate"]}
    assert tests["C-NL-1"] == "pass" and tests["C-NL-2"] == "pass"


def test_gstar_annotations_on_the_crossing_preset(crossing_runs):
    _, _, gstar_dir = crossing_runs
    preset = synthetic.PRESETS["crossing"]
    for label, row in read_json(gstar_dir / "results" / "gstar.json")["by_condition"].items():
        spike_def, rate = label.split("|")
        known = synthetic.expected_crossing_gain(preset, "INSTRUCT", spike_def, float(rate))
        # the interpolated crossing of the measured curve, within half a grid step of the exact one
        assert row["n_crossings"] >= 1 and abs(row["crossing_gain"] - known) <= 0.025, (label, known)
        assert row["b_tot_slope_ci_low"] <= row["b_tot_slope"] <= row["b_tot_slope_ci_high"]
        contains = row["b_tot_ci_low_at_gstar"] <= 1.0 <= row["b_tot_ci_high_at_gstar"]
        assert row["b_tot_ci_contains_one_at_gstar"] is contains


def png_text(path) -> dict:
    with Image.open(path) as image:
        image.load()
        return dict(image.text)


def test_figures_exist_open_and_carry_the_run_id(crossing_runs):
    _, grid_dir, gstar_dir = crossing_runs
    for run_dir, stems in ((grid_dir, ("F02_rate_match", "F03_b_tot_vs_gain")), (gstar_dir, ("F05_gstar_selection",))):
        record = read_json(run_dir / "run_record.json")
        indexed = {artifact["relative_path"]: artifact["sha256"] for artifact in record["artifact_index"]}
        for stem in stems:
            png, pdf = run_dir / "figures" / f"{stem}.png", run_dir / "figures" / f"{stem}.pdf"
            text = png_text(png)
            assert text["run_id"] == record["run_id"] and text["code_version"] == record["code_version"]
            assert pdf.read_bytes().startswith(b"%PDF") and record["run_id"].encode() in pdf.read_bytes()
            assert indexed[f"figures/{stem}.png"] == sha256_file(png)
            assert indexed[f"figures/{stem}.pdf"] == sha256_file(pdf)


def test_figures_are_byte_identical_for_the_same_inputs(crossing_runs, tmp_path):
    _, grid_dir, _ = crossing_runs
    metrics = pd.read_parquet(grid_dir / "results" / "metrics.parquet")
    provenance = {"run_id": "RUN_S02_000000000000", "code_version": "test"}
    first = figures.draw("F03", tmp_path / "a", provenance, metrics)
    second = figures.draw("F03", tmp_path / "b", provenance, metrics)
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_select_gstar_on_a_user_table_draws_f05_and_warns_at_an_edge(tmp_path, capsys):
    """A flat published-style table (b_tot rising from 0.40 to 0.50, no intervals): g* is the top gain,
    no crossing, a warning on stderr, annotations null, F05 drawn."""
    gains = sorted(canon()["gain_grid"])
    rows = [{"spike_def_id": spike_def, "target_rate": rate, "gain": gain, "b_tot": 0.40 + 0.1 * i / (len(gains) - 1)}
            for spike_def in canon()["spike_defs"] for rate in canon()["target_rates"] for i, gain in enumerate(gains)]
    pd.DataFrame(rows).to_parquet(tmp_path / "flat.parquet")
    run_dir = phase2.select_gstar(tmp_path / "runs", "BASE", metrics=str(tmp_path / "flat.parquet"))
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(rows) // len(gains) and "edge of the gain grid" in warnings[0]
    for row in read_json(run_dir / "results" / "gstar.json")["by_condition"].values():
        assert row["gstar"] == gains[-1] and row["gstar_at_grid_edge"] and not row["crosses_one_in_grid"]
        assert row["crossing_gain"] is None and row["n_crossings"] == 0
        assert row["b_tot_ci_contains_one_at_gstar"] is None and row["b_tot_slope_ci_low"] is None
    assert png_text(run_dir / "figures" / "F05_gstar_selection.png")["run_id"] == run_dir.name


def test_select_gstar_on_a_crossing_run_prints_no_warning(crossing_runs, capsys, tmp_path):
    _, grid_dir, _ = crossing_runs
    phase2.select_gstar(tmp_path, "INSTRUCT", metrics=str(grid_dir / "results" / "metrics.parquet"))
    assert "warning:" not in capsys.readouterr().err


def test_every_metric_column_is_declared_with_a_description(crossing_runs):
    """dbt docs show each column: every column of metrics.parquet and gstar has a rendered description."""
    _, grid_dir, gstar_dir = crossing_runs
    for run_dir, model, columns in ((grid_dir, "gain_grid_metrics",
                                     pd.read_parquet(grid_dir / "results" / "metrics.parquet").columns),
                                    (gstar_dir, "gstar", None)):
        manifest = read_json(run_dir / "dbt" / "manifest.json")
        node = manifest["nodes"][f"model.gatehouse.{model}"]
        declared = {name: column["description"] for name, column in node["columns"].items()}
        if columns is None:
            import duckdb
            con = duckdb.connect(str(run_dir / "warehouse.duckdb"), read_only=True)
            columns = [row[0] for row in con.execute("describe gstar").fetchall()]
            con.close()
        missing = [name for name in columns if not declared.get(name, "").strip()]
        assert not missing, f"{model}: {missing}"


def test_a_sequence_with_more_than_20000_avalanches_stops_the_run(tmp_path, capsys):
    """Imported rasters (every condition of the grid) with one window of 20001 isolated sites in one condition
    and one site in each other: a named error, exit 2, nothing published."""
    from gatehouse.cli import main

    from ..published import nothing_published

    grid = [(spike_def, rate, gain) for spike_def in canon()["spike_defs"] for rate in canon()["target_rates"]
            for gain in canon()["gain_grid"]]
    counts = np.zeros((len(grid), 1, 1, 40002), dtype=np.uint16)
    counts[:, 0, 0, 0] = 1
    counts[0, 0, 0, ::2] = 1
    np.savez(tmp_path / "rasters.npz", A=counts, X=(counts > 0).astype(np.uint8),
             cond_id=np.arange(len(grid), dtype=np.int32), seq_id=np.array([0], np.int32))
    pd.DataFrame([{"cond_id": cond_id, "model_role": "INSTRUCT", "spike_def_id": spike_def, "target_rate": rate,
                   "gain": gain} for cond_id, (spike_def, rate, gain) in enumerate(grid)]).to_csv(
        tmp_path / "conditions.csv", index=False)
    code = main(["phase2", "gain-grid", "--rasters", str(tmp_path / "rasters.npz"), "--conditions",
                 str(tmp_path / "conditions.csv"), "--runs-dir", str(tmp_path / "runs")])
    assert code == 2
    assert "seq_id 0: more than 20000 connected components" in capsys.readouterr().err
    assert nothing_published(tmp_path / "runs")
