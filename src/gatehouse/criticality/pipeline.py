"""What the Phase 2 Python models compute, with bad events reported against their source."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gatehouse.criticality import event_scan
from gatehouse.criticality.branching import LAYER_COUNT_COLUMNS, dense_layer_counts
from gatehouse.criticality.event_readers import EventsError, ParquetEvents, RelationEvents
from gatehouse.criticality.loaders import InputError
from gatehouse.criticality.rate_match import RateMatchError, tau_table
from gatehouse.criticality.sources import empty_frame, events_label, summaries_label, user_events_path
from gatehouse.spark.frames import on_spark

HISTOGRAM_TYPES = {"model_role": "object", "spike_def_id": "object", "gain": "float64", "layer": "int32",
                   "bin_index": "int32", "n_values_in_bin": "int64"}
CONDITION_TYPES = {"model_role": "object", "spike_def_id": "object", "target_rate": "float64", "gain": "float64",
                   "seq_id": "int32", "layer": "int32"}
LAYER_TYPES = {**CONDITION_TYPES, **{name: "int64" for name in LAYER_COUNT_COLUMNS}}


def _typed(frame: pd.DataFrame | None, types: dict) -> pd.DataFrame:
    return empty_frame(types) if frame is None or frame.empty else frame[list(types)]


def events_reader(spike_inputs: dict, staged_events):
    """User parquet events are read from their file (fast path), everything else from the staging relation;
    on Spark the passes run partitioned over the staging DataFrame."""
    if on_spark(staged_events):
        from gatehouse.spark.events import SparkEvents  # pyspark: the spark extra only

        return SparkEvents(staged_events)
    path = user_events_path(spike_inputs)
    return ParquetEvents(path, staged_events) if path else RelationEvents(staged_events)


def tail_histogram_table(spike_inputs: dict, staged_events, ranges: pd.DataFrame, bins: int) -> pd.DataFrame:
    """int_tail_histograms: pass 1 over the events (row checks + histogram counts)."""
    try:
        return _typed(event_scan.tail_histograms(events_reader(spike_inputs, staged_events), ranges, bins,
                                                 summaries_label(spike_inputs)), HISTOGRAM_TYPES)
    except EventsError as error:
        raise InputError(f"{events_label(spike_inputs)}: {error}") from None


def tau_rate_matched_table(spike_inputs: dict, histograms: pd.DataFrame, ranges: pd.DataFrame,
                           targets: pd.DataFrame, bins: int) -> pd.DataFrame:
    """int_tau_rate_matched: the thresholds; a floor set too high is an error of the summaries."""
    try:
        return tau_table(histograms, ranges, targets, bins)
    except RateMatchError as error:
        raise InputError(f"{summaries_label(spike_inputs)}: {error}") from None


def raster_layer_table(spike_inputs: dict, staged_events, taus: pd.DataFrame, lattices: pd.DataFrame,
                       imported_sites: pd.DataFrame) -> pd.DataFrame:
    """int_raster_layer_counts: pass 2 over the events for the rate-matched conditions, plus the
    same counts of imported rasters (a build has one or the other)."""
    role_lattices = {role: (int(rows.seq_len.max()), int(rows.n_sequences.max()))
                     for role, rows in lattices.groupby("model_role")}
    events = events_reader(spike_inputs, staged_events)
    frames = [event_scan.raster_layer_counts(events, taus, role_lattices) if not taus.empty else None,
              imported_layer_counts(imported_sites, lattices) if not imported_sites.empty else None]
    frames = [frame for frame in frames if frame is not None and not frame.empty]
    if len(frames) > 1:
        frames = [pd.concat([frame.astype({"model_role": object, "spike_def_id": object}) for frame in frames],
                            ignore_index=True)]
    return _typed(frames[0] if frames else None, LAYER_TYPES)


def imported_layer_counts(sites: pd.DataFrame, lattices: pd.DataFrame) -> pd.DataFrame:
    """Layer counts of imported raster sites (condition keys, seq_id, layer, token, a), densified per condition."""
    keys = ["model_role", "spike_def_id", "target_rate", "gain"]
    frames = []
    for key, rows in sites.groupby(keys, sort=True):
        lattice = lattices.set_index(keys).loc[key]
        seq_ids, sequence = np.unique(rows.seq_id.to_numpy(), return_inverse=True)
        spikes = np.zeros((seq_ids.size, int(lattice.n_layers), int(lattice.seq_len)), dtype=np.int64)
        spikes[sequence, rows.layer.to_numpy(), rows.token.to_numpy()] = rows.a.to_numpy()
        counts = dense_layer_counts(spikes)
        n, layer = np.nonzero(counts["n_occupied"])
        frame = pd.DataFrame({**dict(zip(keys, key)), "seq_id": seq_ids[n].astype(np.int32),
                              "layer": layer.astype(np.int32)})
        for name in LAYER_COUNT_COLUMNS:
            frame[name] = counts[name][n, layer].astype(np.int64)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else None
