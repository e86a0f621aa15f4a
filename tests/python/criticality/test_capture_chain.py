"""`phase2 capture` and the whole chain on real transformers: events + summaries reproduce the dense
activations exactly above the floor, reruns are byte-identical, calibrate -> capture -> gain-grid ->
select-gstar runs on MiniLM with the dependencies recorded, and bad dependencies are named errors."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from gatehouse.cli import main
from gatehouse.criticality import capture, loaders, phase1, phase2, texts, transformer
from gatehouse.project import canon
from gatehouse.runs import RunError, sha256_file

from ..published import published
from .tiny_transformers import save_tiny, torch


def read_json(path):
    return json.loads(path.read_text())


# ---------------------------------------------------------------- streaming top-K floor

def test_layer_tail_keeps_exactly_the_values_above_the_kth_largest_across_batches():
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((2, 5, 40)).astype(np.float32) for _ in range(4)]
    tail = capture.LayerTail([7, 9], tau0=2.5)
    for index, z in enumerate(batches):
        tail.add(2 * index, torch.from_numpy(z))
    floors, rows = tail.finish([1.0, 1.0], "test")
    z = np.concatenate(batches)
    for d, v in enumerate((z, np.abs(z))):
        assert floors[d] == np.sort(v.ravel())[-[7, 9][d]]  # the K-th largest value
        assert tail.v_min[d] == v.min() and tail.v_max[d] == v.max()
        assert tail.n_above_tau0[d] == np.count_nonzero(v > 2.5)
    stored = (z > floors[0]) | (np.abs(z) > floors[1])
    seq, token, unit = np.nonzero(stored)
    assert sorted(zip(rows["seq_id"], rows["token"], rows["unit"])) == sorted(zip(seq, token, unit))
    assert np.array_equal(np.sort(rows["z"]), np.sort(z[stored]))


def test_a_floor_with_too_few_values_above_it_is_a_named_error():
    tail = capture.LayerTail([3, 3], tau0=2.5)
    tail.add(0, torch.ones((1, 4, 8)))  # all values tied: nothing lies above the 3rd largest
    with pytest.raises(RunError, match=r"layer 0: only 0 values above the floor 1 of SPIKE_ONE_SIDED_POS"):
        tail.finish([1.0, 1.0], "layer 0")


# ---------------------------------------------------------------- tiny Llama: dense comparison

@pytest.fixture(scope="module")
def llama_chain(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    model_dir = save_tiny("llama", tmp_path_factory.mktemp("tiny-llama"))
    calibration = phase1.calibrate(runs, model=str(model_dir), n_windows=2, batch_size=1)
    captured = capture.capture(runs, calibration.name)
    return runs, model_dir, calibration, captured


def dense_z(model_dir, calibration, gain):
    """Every z of every layer at gain g on the Phase 1 windows: [L, N, T, d_ff] float32."""
    model, tokenizer = transformer.load(model_dir)
    sites = transformer.mlp_sites(model)
    record = read_json(calibration / "run_record.json")
    windows = texts.sample_windows(texts.load_texts(None), tokenizer, 2, record["run_id"])
    assert windows.slice_sha256 == record["hashes"]["dataset_slice_sha256"]
    with np.load(calibration / "results" / "calibration_stats.npz") as stats:
        mu, sigma = stats["mu"], stats["sigma"]
    z = {layer: [] for layer in range(len(sites))}
    transformer.run_windows(model, sites, windows.input_ids, gain, 1, lambda layer, start, u: z[layer].append(
        ((u.numpy() - mu[layer]) / (sigma[layer] + np.float32(1e-6)))))
    return np.stack([np.concatenate(z[layer]) for layer in range(len(sites))])


@pytest.mark.parametrize("gain", [0.7, 1.0, 1.3])
def test_events_and_summaries_reproduce_the_dense_activations(llama_chain, gain):
    _, model_dir, calibration, captured = llama_chain
    events = pd.read_parquet(captured / "results" / "events.parquet")
    summaries = pd.read_parquet(captured / "results" / "summaries.parquet")
    targets = read_json(calibration / "results" / "rate_targets.json")
    z = dense_z(model_dir, calibration, gain)
    stored = events[events.gain == gain]
    for layer in range(z.shape[0]):
        rows = summaries[(summaries.gain == gain) & (summaries.layer == layer)].set_index("spike_def_id")
        kept = stored[stored.layer == layer]
        for sd, v, kept_v in (("SPIKE_ONE_SIDED_POS", z[layer], kept.z), ("SPIKE_TWO_SIDED_ABS", np.abs(z[layer]),
                                                                             kept.z.abs())):
            row = rows.loc[sd]
            assert (row.v_min, row.v_max) == (float(v.min()), float(v.max()))
            assert row.n_above_tau0 == np.count_nonzero(v > 2.5)
            assert (row.n_sequences, row.seq_len, row.d_ff) == (2, 256, 64)
            floor = row.floor
            seq, token, unit = np.nonzero(v > floor)  # no value above the floor is lost
            above = kept[kept_v.to_numpy() > floor]
            assert sorted(zip(above.seq_id, above.token, above.unit)) == sorted(zip(seq, token, unit))
            largest_target = max(targets["r_star_l"][sd][label][layer] for label in targets["r_star_l"][sd])
            assert len(seq) > largest_target * z[layer].size  # every target's tau lies above the floor
            for tau in floor + np.array([0.05, 0.3, 1.0]):  # exact spike counts at thresholds above the floor
                assert np.count_nonzero(kept_v.to_numpy() > tau) == np.count_nonzero(v > tau)
        floors = rows.floor
        below = (kept.z <= floors["SPIKE_ONE_SIDED_POS"]) & (kept.z.abs() <= floors["SPIKE_TWO_SIDED_ABS"])
        assert not below.any()  # none below every floor is stored


def test_capture_writes_the_gain_grid_input_schemas(llama_chain):
    _, _, calibration, captured = llama_chain
    events = pd.read_parquet(captured / "results" / "events.parquet")
    summaries = pd.read_parquet(captured / "results" / "summaries.parquet")
    assert list(events.columns) == list(loaders.EVENT_COLUMNS)
    assert list(summaries.columns) == list(loaders.SUMMARY_COLUMNS)
    assert [str(kind) for kind in events.dtypes[1:]] == ["float64", "int32", "int32", "int32", "int32", "float32"]
    key = ["model_role", "gain", "seq_id", "layer", "token", "unit"]
    assert events[key].equals(events.sort_values(key)[key]) and not events.duplicated(key).any()
    constants = canon()
    assert sorted(summaries.gain.unique()) == sorted(constants["gain_grid"])
    assert len(summaries) == len(constants["gain_grid"]) * len(constants["spike_defs"]) * 2
    loaders.validate_spike_inputs(captured / "results" / "events.parquet", captured / "results" / "summaries.parquet")
    record = read_json(captured / "run_record.json")
    assert record["dependencies"] == [calibration.name] and record["phase_id"] == "PHASE2_CAPTURE"
    assert record["model_role"] == "INSTRUCT" and record["capture"]["floor_rate_margin"] == 4.0


def test_capture_reruns_are_byte_identical(llama_chain, tmp_path):
    _, _, calibration, captured = llama_chain
    shutil.copytree(calibration, tmp_path / calibration.name)
    again = capture.capture(tmp_path, calibration.name)
    assert again.name == captured.name
    for name in ("events.parquet", "summaries.parquet"):
        assert sha256_file(again / "results" / name) == sha256_file(captured / "results" / name)


@pytest.mark.parametrize("command, dep, code, message", [
    ("capture", "RUN_S01_000000000000", 3, "--dep RUN_S01_000000000000: no completed run with that id"),
    ("capture", "{capture}", 2, "a PHASE2_CAPTURE run, expected a PHASE1_CALIBRATE run"),
    ("gain-grid", "{phase1}", 2, "a PHASE1_CALIBRATE run, expected a PHASE2_CAPTURE run"),
    ("gain-grid", "RUN_S02C_000000000000", 3, "no completed run with that id"),
])
def test_bad_dependencies_are_named_errors(llama_chain, capsys, command, dep, code, message):
    runs, _, calibration, captured = llama_chain
    before = published(runs)
    dep = dep.format(capture=captured.name, phase1=calibration.name)
    assert main(["phase2", command, "--dep", dep, "--runs-dir", str(runs)]) == code
    assert message in capsys.readouterr().err
    assert published(runs) == before


def test_gain_grid_dep_and_files_are_alternatives(llama_chain, capsys):
    runs, _, _, captured = llama_chain
    assert main(["phase2", "gain-grid", "--dep", captured.name, "--events", "e.parquet", "--summaries", "s.parquet",
                 "--runs-dir", str(runs)]) == 2
    assert "give one input" in capsys.readouterr().err


def test_capture_model_role_must_match_phase1(llama_chain, capsys):
    runs, _, calibration, _ = llama_chain
    assert main(["phase2", "capture", "--dep", calibration.name, "--model-role", "BASE", "--runs-dir", str(runs)]) == 2
    assert "calibrated model role INSTRUCT" in capsys.readouterr().err


def test_changed_calibration_stats_are_refused(llama_chain, tmp_path, capsys):
    _, _, calibration, _ = llama_chain
    shutil.copytree(calibration, tmp_path / calibration.name)
    with open(tmp_path / calibration.name / "results" / "calibration_stats.npz", "ab") as handle:
        handle.write(b"\0")
    assert main(["phase2", "capture", "--dep", calibration.name, "--runs-dir", str(tmp_path)]) == 2
    assert "calibration_stats.npz: missing or changed since run" in capsys.readouterr().err
    assert published(tmp_path) == [calibration.name]


# ---------------------------------------------------------------- MiniLM, the whole chain

@pytest.fixture(scope="module")
def minilm_chain(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    steps = {}
    for name, argv in (("phase1", ["phase1", "calibrate", "--n-windows", "4"]),
                       ("capture", ["phase2", "capture", "--dep", "{phase1}"]),
                       ("grid", ["phase2", "gain-grid", "--dep", "{capture}"]),
                       ("gstar", ["phase2", "select-gstar", "--dep", "{grid}"])):
        before = set(published(runs))
        argv = [argument.format(**steps) for argument in argv]
        assert main([*argv, "--runs-dir", str(runs)]) == 0, name
        (steps[name],) = set(published(runs)) - before
    return runs, steps


def test_minilm_chain_records_each_dependency(minilm_chain):
    runs, steps = minilm_chain
    records = {name: read_json(runs / run_id / "run_record.json") for name, run_id in steps.items()}
    assert records["phase1"]["dependencies"] == []
    assert records["capture"]["dependencies"] == [steps["phase1"]]
    assert records["grid"]["dependencies"] == [steps["capture"]]
    assert records["gstar"]["dependencies"] == [steps["grid"]]
    assert records["phase1"]["model"]["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert (records["phase1"]["model"]["n_layers"], records["phase1"]["model"]["d_ff"]) == (6, 1536)
    assert records["grid"]["inputs"]["files"]["events"]["sha256"] == sha256_file(
        runs / steps["capture"] / "results" / "events.parquet")


def test_minilm_gain_grid_covers_the_grid_within_rate_tolerance(minilm_chain):
    runs, steps = minilm_chain
    metrics = pd.read_parquet(runs / steps["grid"] / "results" / "metrics.parquet")
    constants = canon()
    assert len(metrics) == len(constants["gain_grid"]) * len(constants["target_rates"]) * len(constants["spike_defs"])
    assert sorted(metrics.gain.unique()) == sorted(constants["gain_grid"])
    assert (metrics.achieved_rate_max_abs_err <= constants["rate_match_tol_abs"]).all()
    assert np.isfinite(metrics.b_tot).all() and (metrics.b_tot > 0).all()
    by_rate = metrics.groupby("target_rate").b_tot.mean()
    assert by_rate.is_monotonic_increasing  # more spikes per layer, more neighbours: b_tot rises with the rate
    gstar = read_json(runs / steps["gstar"] / "results" / "gstar.json")
    assert len(gstar["by_condition"]) == 8
    assert all(row["gstar"] in constants["gain_grid"] for row in gstar["by_condition"].values())


def test_minilm_calibration_rerun_is_byte_identical(minilm_chain, tmp_path):
    runs, steps = minilm_chain
    again = phase1.calibrate(tmp_path, n_windows=4)
    assert again.name == steps["phase1"]
    for name in ("calibration_stats.npz", "rate_targets.json"):
        assert sha256_file(again / "results" / name) == sha256_file(runs / steps["phase1"] / "results" / name)


def test_capture_outputs_name_the_files_and_refuse_other_inputs(minilm_chain):
    """gain-grid --dep reads the capture's own files, and no other input beside them."""
    runs, steps = minilm_chain
    events, summaries, role = capture.capture_outputs(runs, steps["capture"])
    assert role == "INSTRUCT" and events.endswith("events.parquet") and summaries.endswith("summaries.parquet")
    with pytest.raises(RunError, match="give one input"):
        phase2.gain_grid(runs, dep=steps["capture"], rasters="r.npz")
