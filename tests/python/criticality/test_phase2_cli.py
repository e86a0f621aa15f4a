"""End-to-end Phase 2 through the CLI: known answers, provenance, determinism, bad input."""

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from gatehouse.cli import main
from gatehouse.criticality import phase2, synthetic
from gatehouse.project import canon
from gatehouse.runs import sha256_file

from ..published import published


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def test_crossing_preset_selects_a_grid_gain_next_to_each_known_crossing(crossing_runs):
    """Every condition's expected b_tot crosses 1 at a known gain (closed form), within one grid step of the
    preset's 1.05; g* is a grid gain, so it lies within one step of that crossing."""
    _, _, gstar_dir = crossing_runs
    document = read_json(gstar_dir / "results" / "gstar.json")
    preset, step = synthetic.PRESETS["crossing"], float(np.diff(sorted(canon()["gain_grid"])).max())
    assert len(document["by_condition"]) == len(canon()["spike_defs"]) * len(canon()["target_rates"])
    for label, row in document["by_condition"].items():
        spike_def, rate = label.split("|")
        known = synthetic.expected_crossing_gain(preset, "INSTRUCT", spike_def, float(rate))
        assert abs(row["gstar"] - known) <= step, label
        assert row["crosses_one_in_grid"] and not row["gstar_at_grid_edge"]
    assert "SPIKE_ONE_SIDED_POS|1e-05" in document["by_condition"]


def test_metrics_cover_the_whole_grid_within_rate_tolerance(crossing_runs):
    _, grid_dir, _ = crossing_runs
    metrics = pd.read_parquet(grid_dir / "results" / "metrics.parquet")
    constants = canon()
    assert sorted(metrics.gain.unique()) == sorted(constants["gain_grid"])
    assert len(metrics) == len(constants["gain_grid"]) * len(constants["target_rates"]) * len(constants["spike_defs"])
    assert (metrics.achieved_rate_max_abs_err <= constants["rate_match_tol_abs"]).all()
    assert metrics.b_tot.notna().all() and (metrics.delta_b_tot > 0).all()
    taus = pd.read_parquet(grid_dir / "results" / "tau_rate_matched.parquet")
    assert len(taus) == len(metrics) * 28


def test_gstar_run_records_the_grid_run_as_dependency(crossing_runs):
    _, grid_dir, gstar_dir = crossing_runs
    grid_record, gstar_record = read_json(grid_dir / "run_record.json"), read_json(gstar_dir / "run_record.json")
    assert gstar_record["dependencies"] == [grid_record["run_id"]]
    assert gstar_record["source_metrics"]["sha256"] == sha256_file(grid_dir / "results" / "metrics.parquet")
    for record, run_dir in ((grid_record, grid_dir), (gstar_record, gstar_dir)):
        assert record["stage_status"] == "complete" and run_dir.name == record["run_id"]
        for artifact in record["artifact_index"]:
            assert sha256_file(run_dir / artifact["relative_path"]) == artifact["sha256"]
        assert record["dbt"]["tests"] and all(test["status"] == "pass" for test in record["dbt"]["tests"])
    gates = {test["gate"] for test in gstar_record["dbt"]["tests"] if test["gate"]}
    assert {"C-GS-1", "C-GS-3", "C-GS-4"} <= gates


def test_existing_run_directory_is_never_overwritten(crossing_runs, capsys):
    runs_dir, grid_dir, _ = crossing_runs
    before = sha256_file(grid_dir / "run_record.json")
    assert main(["phase2", "gain-grid", "--runs-dir", str(runs_dir)]) == 4
    assert "already exists" in capsys.readouterr().err
    assert sha256_file(grid_dir / "run_record.json") == before


def test_same_inputs_give_byte_identical_outputs(crossing_runs, tmp_path):
    _, grid_dir, gstar_dir = crossing_runs
    again_grid = phase2.gain_grid(tmp_path, "INSTRUCT")
    again_gstar = phase2.select_gstar(tmp_path, "INSTRUCT")
    assert again_grid.name == grid_dir.name
    assert sha256_file(again_grid / "results" / "metrics.parquet") == sha256_file(grid_dir / "results" / "metrics.parquet")
    assert sha256_file(again_gstar / "results" / "gstar.json") == sha256_file(gstar_dir / "results" / "gstar.json")


def test_events_files_give_the_same_metrics_as_the_embedded_data(crossing_runs, tmp_path):
    _, grid_dir, _ = crossing_runs
    events, summaries = synthetic.generate("crossing", 1337, ("INSTRUCT",))
    events.to_parquet(tmp_path / "events.parquet")
    summaries.to_parquet(tmp_path / "summaries.parquet")
    run_dir = phase2.gain_grid(tmp_path / "runs", "INSTRUCT", events=tmp_path / "events.parquet",
                               summaries=tmp_path / "summaries.parquet")
    assert sha256_file(run_dir / "results" / "metrics.parquet") == sha256_file(grid_dir / "results" / "metrics.parquet")


def test_events_in_any_order_give_the_same_metrics(crossing_runs, tmp_path):
    """Shuffled rows take the fallbacks (grouped duplicate check, DuckDB sort before pass 2); a second
    file after the first also checks that the kept dbt parse picks up the new input paths."""
    _, grid_dir, _ = crossing_runs
    events, summaries = synthetic.generate("crossing", 1337, ("INSTRUCT",))
    events.sample(frac=1.0, random_state=1).to_parquet(tmp_path / "shuffled.parquet", row_group_size=50_000)
    summaries.to_parquet(tmp_path / "summaries.parquet")
    run_dir = phase2.gain_grid(tmp_path / "runs", "INSTRUCT", events=tmp_path / "shuffled.parquet",
                               summaries=tmp_path / "summaries.parquet")
    assert sha256_file(run_dir / "results" / "metrics.parquet") == sha256_file(grid_dir / "results" / "metrics.parquet")
    con = duckdb.connect(str(run_dir / "warehouse.duckdb"), read_only=True)
    view = con.execute("select sql from duckdb_views() where view_name = 'stg_spikes__events'").fetchone()[0]
    assert "shuffled.parquet" in view


def test_flat_preset_is_flagged_as_not_crossing(tmp_path):
    phase2.gain_grid(tmp_path, "BASE", preset="flat")
    document = read_json(phase2.select_gstar(tmp_path, "BASE") / "results" / "gstar.json")
    assert not any(row["crosses_one_in_grid"] for row in document["by_condition"].values())
    assert all(row["gstar_at_grid_edge"] for row in document["by_condition"].values())


def oracle_rasters(rng, n_sequences=128, layers=6, tokens=64):
    """88 conditions: i.i.d. Bernoulli rasters for ONE_SIDED, token-Markov rasters for TWO_SIDED."""
    constants = canon()
    conditions, rasters = [], []
    for spike_def in constants["spike_defs"]:
        for target_rate in constants["target_rates"]:
            for gain in constants["gain_grid"]:
                level = 0.1 + 0.5 * (gain - 0.7)  # p (Bernoulli) or persistence a (Markov)
                if spike_def == "SPIKE_ONE_SIDED_POS":
                    occupied = rng.random((n_sequences, layers, tokens)) < level
                else:
                    occupied = np.zeros((n_sequences, layers, tokens), dtype=bool)
                    occupied[:, :, 0] = rng.random((n_sequences, layers)) < 0.3
                    enter = 0.3 * (1 - level) / 0.7
                    for t in range(1, tokens):
                        draw = rng.random((n_sequences, layers))
                        occupied[:, :, t] = draw < np.where(occupied[:, :, t - 1], level, enter)
                conditions.append({"cond_id": len(conditions), "model_role": "INSTRUCT", "spike_def_id": spike_def,
                                   "target_rate": target_rate, "gain": gain, "level": level})
                rasters.append(occupied.astype(np.uint16) * 3)
    return pd.DataFrame(conditions), np.stack(rasters)


def test_imported_rasters_reproduce_the_bernoulli_and_markov_oracles(tmp_path):
    conditions, counts = oracle_rasters(np.random.default_rng(2))
    np.savez(tmp_path / "rasters.npz", A=counts, X=(counts > 0).astype(np.uint8),
             cond_id=conditions.cond_id.to_numpy(np.int32), seq_id=np.arange(counts.shape[1], dtype=np.int32))
    conditions.drop(columns="level").to_csv(tmp_path / "conditions.csv", index=False)
    run_dir = phase2.gain_grid(tmp_path / "runs", "INSTRUCT", rasters=tmp_path / "rasters.npz",
                               conditions=tmp_path / "conditions.csv")
    metrics = pd.read_parquet(run_dir / "results" / "metrics.parquet").merge(
        conditions, on=["model_role", "spike_def_id", "target_rate", "gain"])
    layers, tokens = counts.shape[2], counts.shape[3]
    bernoulli = metrics[metrics.spike_def_id == "SPIKE_ONE_SIDED_POS"]
    assert np.allclose(bernoulli.b_time, bernoulli.level * (tokens - 1) / tokens, atol=0.02)
    assert np.allclose(bernoulli.b_depth, bernoulli.level * (layers - 1) / layers, atol=0.02)
    assert np.allclose(bernoulli.delta_b_tot, 0, atol=0.02)  # i.i.d. rasters carry no structure
    markov = metrics[metrics.spike_def_id == "SPIKE_TWO_SIDED_ABS"]
    assert np.allclose(markov.b_time_excl_boundary, markov.level, atol=0.03)
    assert markov.achieved_rate_mean.isna().all()  # imported rasters are not rate matched


def write_small_inputs(directory, mutate_events=None, mutate_summaries=None):
    lattice = synthetic.Lattice(n_layers=4, seq_len=16, n_sequences=8, d_ff=512)
    events, summaries = synthetic.generate("crossing", 5, ("INSTRUCT",), lattice=lattice)
    if mutate_events:
        events = mutate_events(events)
    if mutate_summaries:
        summaries = mutate_summaries(summaries)
    events.to_parquet(directory / "events.parquet")
    summaries.to_parquet(directory / "summaries.parquet")
    return directory / "events.parquet", directory / "summaries.parquet"


def test_bad_events_fail_with_a_named_error_and_leave_nothing(tmp_path, capsys):
    def with_infinity(events):
        events.loc[3, "z"] = -np.inf
        return events

    events, summaries = write_small_inputs(tmp_path, mutate_events=with_infinity)
    runs_dir = tmp_path / "runs"
    code = main(["phase2", "gain-grid", "--runs-dir", str(runs_dir), "--events", str(events),
                 "--summaries", str(summaries)])
    assert code == 2
    err = capsys.readouterr().err
    assert "events.parquet" in err and "column z" in err and "non-finite" in err
    assert published(runs_dir) == []


def test_malformed_npz_fails_with_a_named_error_and_leaves_nothing(tmp_path, capsys):
    (tmp_path / "rasters.npz").write_bytes(b"not an npz")
    (tmp_path / "conditions.csv").write_text("cond_id,model_role,spike_def_id,target_rate,gain\n")
    runs_dir = tmp_path / "runs"
    code = main(["phase2", "gain-grid", "--runs-dir", str(runs_dir), "--rasters", str(tmp_path / "rasters.npz"),
                 "--conditions", str(tmp_path / "conditions.csv")])
    assert code == 2
    assert "rasters.npz" in capsys.readouterr().err
    assert published(runs_dir) == []


def test_missing_grid_dependency_is_exit_3(tmp_path, capsys):
    assert main(["phase2", "select-gstar", "--runs-dir", str(tmp_path)]) == 3
    assert "found: none" in capsys.readouterr().err


def test_select_gstar_reads_any_published_metrics_table(tmp_path, capsys):
    """A results table with `g` instead of `gain`, no model_role and task columns: only branching is read.
    It holds 5 of the grid's 11 gains: g* is chosen among them, and gstar.json and a warning say which lack."""
    rows = []
    curves = {"SPIKE_ONE_SIDED_POS": [0.6, 0.9, 1.02, 1.3, 1.5], "SPIKE_TWO_SIDED_ABS": [0.6, 0.98, 1.1, 1.35, 1.6]}
    for spike_def, b_tot in curves.items():
        for target_rate in canon()["target_rates"]:
            for gain, value in zip([0.7, 0.85, 1.0, 1.15, 1.3], b_tot):
                rows.append({"spike_def_id": spike_def, "target_rate": target_rate, "g": gain, "b_tot": value,
                             "ppl": 1.0 / value, "accuracy": value})
    pd.DataFrame(rows).to_parquet(tmp_path / "published.parquet")
    run_dir = phase2.select_gstar(tmp_path / "runs", "BASE", metrics=str(tmp_path / "published.parquet"))
    document = read_json(run_dir / "results" / "gstar.json")
    record = read_json(run_dir / "run_record.json")
    assert record["dependencies"] == [] and document["model_role"] == "BASE"
    assert {row["gstar"] for label, row in document["by_condition"].items() if label.startswith("SPIKE_ONE")} == {1.0}
    assert {row["gstar"] for label, row in document["by_condition"].items() if label.startswith("SPIKE_TWO")} == {0.85}
    lacking = [0.8, 0.9, 0.95, 1.05, 1.1, 1.2]
    assert all(row["grid_gains_missing"] == lacking for row in document["by_condition"].values())
    warnings = [line for line in capsys.readouterr().err.splitlines() if "lack 6 gain(s) of the grid" in line]
    assert len(warnings) == len(document["by_condition"]) == 8


def test_dbt_builds_two_nodes_at_once_only_for_small_inputs(tmp_path, monkeypatch):
    """Two dbt threads for the synthetic data and small event files; one for large files, for rasters and
    for a file that is not parquet (the build's input checks report it)."""
    events = tmp_path / "events.parquet"
    pd.DataFrame({"z": np.arange(5, dtype=np.float32)}).to_parquet(events)
    not_parquet = tmp_path / "events.csv"
    not_parquet.write_text("z\n1\n")
    assert phase2._dbt_threads({"spike_source": "synthetic"}) == 2
    assert phase2._dbt_threads({"spike_source": "events", "spike_events_path": str(events)}) == 2
    assert phase2._dbt_threads({"spike_source": "events", "spike_events_path": str(not_parquet)}) == 1
    assert phase2._dbt_threads({"spike_source": "rasters"}) == 1
    monkeypatch.setattr(phase2, "TWO_NODES_MAX_EVENTS", 4)
    assert phase2._dbt_threads({"spike_source": "events", "spike_events_path": str(events)}) == 1
