"""What the per-sequence Python models return: the shift-null layer counts, the avalanches and the MR
estimates, typed
(an empty build still gets tables with the right columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gatehouse.criticality import mr_estimator
from gatehouse.criticality.avalanches import avalanche_table
from gatehouse.criticality.nulls import SHIFT_COLUMNS, shift_null_counts
from gatehouse.criticality.raster_sites import group_sites
from gatehouse.criticality.sources import empty_frame

KEY_TYPES = {"model_role": "object", "spike_def_id": "object", "target_rate": "float64", "gain": "float64"}
SHIFT_TYPES = {**KEY_TYPES, "seq_id": "int32", "layer": "int32", **{name: "int64" for name in SHIFT_COLUMNS}}
AVALANCHE_TYPES = {**KEY_TYPES, "adjacency": "object", "seq_id": "int32", "component_id": "int32", "size": "int64",
                   "n_sites": "int64", "span_tokens": "int64", "span_layers": "int64", "t_min": "int64",
                   "t_max": "int64", "l_min": "int64", "l_max": "int64"}

MR_COLUMNS = ["mr_m_tokens", "mr_tau_tokens", "mr_r1_tokens", "mr_k_max_tokens", "mr_m_layers", "mr_tau_layers",
              "mr_r1_layers", "mr_k_max_layers"]


def _has_sites(sites: dict[str, np.ndarray]) -> bool:
    return len(sites["seq_id"]) > 0


def shift_null_layer_table(sites: dict[str, np.ndarray], conditions: pd.DataFrame, run_id: str) -> pd.DataFrame:
    if not _has_sites(sites):
        return empty_frame(SHIFT_TYPES)
    return shift_null_counts(group_sites(sites, conditions), run_id)[list(SHIFT_TYPES)]


def avalanche_components_table(sites: dict[str, np.ndarray], conditions: pd.DataFrame) -> pd.DataFrame:
    if not _has_sites(sites):
        return empty_frame(AVALANCHE_TYPES)
    return avalanche_table(group_sites(sites, conditions))[list(AVALANCHE_TYPES)]


def mr_table(sites: dict[str, np.ndarray], conditions: pd.DataFrame) -> pd.DataFrame:
    """int_mr_estimates: the MR branching estimates of every condition (activity series from the sites)."""
    grouped = group_sites(sites, conditions) if _has_sites(sites) else None
    if grouped is not None:
        index = grouped.columns["condition_index"]
        # searched in the sites' own integer type (other keys would convert every site, per call)
        condition_starts = np.searchsorted(index, np.arange(len(conditions) + 1, dtype=index.dtype))
    records = []
    for condition in conditions.sort_values("condition_index").itertuples(index=False):
        n_sequences, n_layers, seq_len = int(condition.n_sequences), int(condition.n_layers), int(condition.seq_len)
        if grouped is None:
            columns = {name: np.zeros(0, dtype=np.int64) for name in ("seq_id", "layer", "token", "a")}
        else:
            rows = slice(condition_starts[condition.condition_index], condition_starts[condition.condition_index + 1])
            columns = {name: grouped.columns[name][rows] for name in ("seq_id", "layer", "token", "a")}
        seq_ids, seq_index = np.unique(columns["seq_id"], return_inverse=True)
        along_tokens, along_layers = mr_estimator.condition_series(
            seq_index, columns["layer"], columns["token"], columns["a"], max(n_sequences, seq_ids.size),
            n_layers, seq_len)
        records.append({**{name: getattr(condition, name) for name in KEY_TYPES},
                        **mr_estimator.condition_estimates(along_tokens, along_layers)})
    return pd.DataFrame.from_records(records, columns=list(KEY_TYPES) + MR_COLUMNS)
