"""Phase 1 on a real transformer: texts, window sampling (spec §3), calibration math against a dense
float64 computation, rate targets by hand, byte-identical reruns, and named errors for bad input."""

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from gatehouse.cli import main
from gatehouse.criticality import phase1, texts, transformer
from gatehouse.runs import RunError, sha256_file

from ..published import nothing_published
from .tiny_transformers import save_tiny, tiny, torch


def char_tokenizer(text, add_special_tokens=True, verbose=True):
    assert add_special_tokens is False  # spec §3: tokenized without special tokens
    return {"input_ids": [ord(c) for c in text]}


# ---------------------------------------------------------------- texts and window sampling

def test_window_sampling_follows_the_reference_rule():
    rows = texts.Texts("letters", tuple(chr(97 + i) * (5 + i) for i in range(26)))  # 455 tokens
    windows = texts.sample_windows(rows, char_tokenizer, 3, "RUN_S01_000000000000", seq_len=4)
    buffer = [ord(c) for row in rows.rows for c in row]
    assert windows.pool_size == 30  # max(n, min(500, 10 n)) windows of 4 tokens, cut consecutively
    seed = int(hashlib.sha256(b"1337|RUN_S01_000000000000|A").hexdigest()[:8], 16)
    chosen = sorted(np.random.default_rng(seed).choice(30, 3, replace=False).tolist())
    assert list(windows.chunk_index) == chosen
    assert windows.input_ids.tolist() == [buffer[4 * k:4 * k + 4] for k in chosen]
    document = [{"dataset_role": "A", "chunk_index": k, "input_ids": buffer[4 * k:4 * k + 4]} for k in chosen]
    assert windows.slice_sha256 == hashlib.sha256(json.dumps(document, separators=(",", ":")).encode()).hexdigest()


def test_window_sampling_is_deterministic_per_run_id():
    rows = texts.load_texts(None)
    one = texts.sample_windows(rows, char_tokenizer, 8, "RUN_S01_aaaaaaaaaaaa", seq_len=16)
    again = texts.sample_windows(rows, char_tokenizer, 8, "RUN_S01_aaaaaaaaaaaa", seq_len=16)
    other = texts.sample_windows(rows, char_tokenizer, 8, "RUN_S01_bbbbbbbbbbbb", seq_len=16)
    assert one.slice_sha256 == again.slice_sha256 and np.array_equal(one.input_ids, again.input_ids)
    assert one.chunk_index != other.chunk_index and one.slice_sha256 != other.slice_sha256
    assert one.pool_size == 80 and max(one.chunk_index) < 80 and one.input_ids.dtype == np.int64


def test_too_few_tokens_for_the_windows_is_a_named_error():
    rows = texts.Texts("/data/short.txt", ("only a few words here",))
    with pytest.raises(RunError, match=r"/data/short.txt: too few tokens: 0 window\(s\) of 256 tokens"):
        texts.sample_windows(rows, char_tokenizer, 1, "RUN_S01_000000000000")


def test_default_texts_are_pydoc_topics_in_key_order():
    from pydoc_data.topics import topics

    rows = texts.load_texts(None)
    assert rows.source == "pydoc_data.topics"
    assert rows.rows == tuple(topics[key] for key in sorted(topics))
    assert sum(len(row.split()) for row in rows.rows) > 50_000


def test_texts_from_a_file_a_directory_and_a_parquet(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.txt").write_text("second")
    (tmp_path / "docs" / "a.txt").write_text("first")
    (tmp_path / "one.txt").write_text("just one")
    pd.DataFrame({"text": ["x", "y"], "id": [1, 2]}).to_parquet(tmp_path / "rows.parquet")
    assert texts.load_texts(str(tmp_path / "docs")).rows == ("first", "second")
    assert texts.load_texts(str(tmp_path / "one.txt")).rows == ("just one",)
    assert texts.load_texts(str(tmp_path / "rows.parquet")).rows == ("x", "y")
    assert texts.load_texts(str(tmp_path / "docs")).sha256 != texts.load_texts(str(tmp_path / "rows.parquet")).sha256


@pytest.mark.parametrize("case, message", [
    ("missing", "missing.txt: --texts file not found"),
    ("no_text_column", "notext.parquet: missing column text"),
    ("null_text", "nulls.parquet: column text: 1 null value"),
    ("not_utf8", "latin.txt: not UTF-8 text"),
    ("empty_dir", "empty: --texts directory holds no text file"),
])
def test_bad_texts_are_named_errors(tmp_path, case, message):
    pd.DataFrame({"body": ["x"]}).to_parquet(tmp_path / "notext.parquet")
    pd.DataFrame({"text": ["x", None]}).to_parquet(tmp_path / "nulls.parquet")
    (tmp_path / "latin.txt").write_bytes("café".encode("latin-1"))
    (tmp_path / "empty").mkdir()
    path = {"missing": "missing.txt", "no_text_column": "notext.parquet", "null_text": "nulls.parquet",
            "not_utf8": "latin.txt", "empty_dir": "empty"}[case]
    with pytest.raises(RunError, match=message):
        texts.load_texts(str(tmp_path / path))


# ---------------------------------------------------------------- calibration math

@pytest.fixture(scope="module")
def dense_llama():
    """A tiny Llama, 3 windows of 256 tokens, and every u of every layer (batches of 2, as calibrated)."""
    model = tiny("llama")
    sites = transformer.mlp_sites(model)
    input_ids = torch.randint(0, 30000, (3, 256), generator=torch.Generator().manual_seed(7)).numpy()
    u = {layer: [] for layer in range(len(sites))}
    transformer.run_windows(model, sites, input_ids, 1.0, 2, lambda layer, start, x: u[layer].append(x.numpy().copy()))
    dense = np.stack([np.concatenate(u[layer]).reshape(-1, 64) for layer in range(len(sites))])
    return model, sites, input_ids, dense


def test_mu_sigma_equal_a_dense_float64_computation(dense_llama):
    model, sites, input_ids, dense = dense_llama
    mu, sigma, checks = phase1.moments(model, sites, input_ids, 2, "cpu")
    values = dense.astype(np.float64)
    assert mu.dtype == sigma.dtype == np.float32 and mu.shape == sigma.shape == (2, 64)
    np.testing.assert_allclose(mu, values.mean(axis=1), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(sigma, values.std(axis=1, ddof=0), rtol=1e-6)  # population std
    assert checks == {"n_values_per_unit": 768, "sigma_clamp_count": 0, "zero_sigma_units": 0, "nan_count": 0}


def test_tau0_counts_equal_a_dense_count(dense_llama):
    model, sites, input_ids, dense = dense_llama
    mu, sigma, _ = phase1.moments(model, sites, input_ids, 2, "cpu")
    counts = phase1.tau0_counts(model, sites, input_ids, mu, sigma, 2, "cpu")
    z = (dense - mu[:, None, :]) / (sigma[:, None, :] + np.float32(1e-6))
    assert z.dtype == np.float32
    assert counts["SPIKE_ONE_SIDED_POS"] == np.count_nonzero(z > 2.5, axis=(1, 2)).tolist()
    assert counts["SPIKE_TWO_SIDED_ABS"] == np.count_nonzero(np.abs(z) > 2.5, axis=(1, 2)).tolist()
    assert min(counts["SPIKE_ONE_SIDED_POS"]) > 0


def test_rate_targets_by_hand():
    document = phase1.rate_targets({"SPIKE_ONE_SIDED_POS": [1, 3], "SPIKE_TWO_SIDED_ABS": [2, 2]}, 1000, 64)
    assert document["r_base_l"]["SPIKE_ONE_SIDED_POS"] == [0.001, 0.003]
    assert sorted(document["scales"]["SPIKE_ONE_SIDED_POS"]) == ["1e-05", "2e-05", "4e-05", "8e-05"]
    assert document["scales"]["SPIKE_ONE_SIDED_POS"]["1e-05"] == pytest.approx(0.005)
    assert document["r_star_l"]["SPIKE_ONE_SIDED_POS"]["1e-05"] == pytest.approx([5e-6, 1.5e-5])
    assert document["r_star_l"]["SPIKE_TWO_SIDED_ABS"]["8e-05"] == pytest.approx([8e-5, 8e-5])
    assert (document["L"], document["d_ff"], document["tau0_baseline"]) == (2, 64, 2.5)
    with pytest.raises(RunError, match="no value with v > TAU0_BASELINE"):
        phase1.rate_targets({"SPIKE_ONE_SIDED_POS": [0, 0]}, 1000, 64)


def test_npz_bytes_do_not_depend_on_the_clock(tmp_path, monkeypatch):
    arrays = {"mu": np.arange(6, dtype=np.float32).reshape(2, 3), "sigma": np.ones((2, 3), np.float32)}
    phase1.write_npz(tmp_path / "a.npz", arrays)
    monkeypatch.setattr("time.time", lambda: 2_000_000_000.0)
    phase1.write_npz(tmp_path / "b.npz", arrays)
    assert sha256_file(tmp_path / "a.npz") == sha256_file(tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz") as loaded:
        assert sorted(loaded.files) == ["mu", "sigma"] and np.array_equal(loaded["mu"], arrays["mu"])


# ---------------------------------------------------------------- the command

@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    return save_tiny("llama", tmp_path_factory.mktemp("tiny-llama"))


def test_calibrate_reruns_are_byte_identical(llama_dir, tmp_path):
    first = phase1.calibrate(tmp_path / "a", model=str(llama_dir), n_windows=2, batch_size=1)
    second = phase1.calibrate(tmp_path / "b", model=str(llama_dir), n_windows=2, batch_size=1)
    assert first.name == second.name and first.name.startswith("RUN_S01_")
    for name in ("calibration_stats.npz", "rate_targets.json"):
        assert sha256_file(first / "results" / name) == sha256_file(second / "results" / name)
    record = json.loads((first / "run_record.json").read_text())
    assert record["phase_id"] == "PHASE1_CALIBRATE" and record["model"]["kind"] == "gated"
    assert (record["model"]["n_layers"], record["model"]["d_ff"]) == (2, 64)
    with np.load(first / "results" / "calibration_stats.npz") as stats:
        assert stats["mu"].shape == stats["sigma"].shape == (2, 64)
    targets = json.loads((first / "results" / "rate_targets.json").read_text())
    assert targets["n_values_per_layer"] == 2 * 256 * 64
    for sd in ("SPIKE_ONE_SIDED_POS", "SPIKE_TWO_SIDED_ABS"):
        assert np.mean(targets["r_star_l"][sd]["4e-05"]) == pytest.approx(4e-5)


@pytest.mark.parametrize("arguments, message", [
    (["--texts", "{tmp}/missing.txt"], "missing.txt: --texts file not found"),
    (["--texts", "{tmp}/notext.parquet"], "notext.parquet: missing column text"),
    (["--texts", "{tmp}/short.txt"], "short.txt: too few tokens"),
    (["--n-windows", "1"], "--n-windows 1: 16384 calibration values per layer"),
    (["--model", "{tmp}/no-model"], "no-model: model directory not found"),
    (["--device", "cuda"], "--device cuda: no CUDA device is available"),
    (["--model", "{tmp}/no-weights"], "no-weights: cannot load the model offline"),
])
def test_calibrate_bad_input_exits_2_and_publishes_nothing(llama_dir, tmp_path, capsys, arguments, message):
    pd.DataFrame({"body": ["x"]}).to_parquet(tmp_path / "notext.parquet")
    shutil.copytree(llama_dir, tmp_path / "no-weights", ignore=shutil.ignore_patterns("*.safetensors"))
    (tmp_path / "short.txt").write_text("far too short for one window of 256 tokens")
    runs = tmp_path / "runs"
    arguments = [argument.format(tmp=tmp_path) for argument in arguments]
    model = [] if "--model" in arguments else ["--model", str(llama_dir)]
    code = main(["phase1", "calibrate", "--runs-dir", str(runs), "--n-windows", "2", *model, *arguments])
    assert code == 2 and message in capsys.readouterr().err
    assert nothing_published(runs)


def test_base_role_without_a_configured_model_is_a_named_error(tmp_path, capsys):
    assert main(["phase1", "calibrate", "--model-role", "BASE", "--runs-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "roles.BASE.model: no model configured for model role BASE" in error and "--model DIR" in error
    assert nothing_published(tmp_path)
