"""Occupied raster sites grouped into sequences for the per-sequence kernels (circular-shift null,
avalanches).

The sites come from int_raster_sites: (condition_index, seq_id, layer, token, a) in that order, with
the condition keys of each condition_index in a small table. A sequence is one (condition, seq_id)
run of rows, a layer row one (condition, seq_id, layer) run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from gatehouse.criticality.event_scan import canon_categorical

CONDITION_KEYS = ["model_role", "spike_def_id", "target_rate", "gain"]
# key strings stored as categoricals over every CANON value (DuckDB: one ENUM type for all tables, so
# joins with int_raster_layer_counts never cast a key into a narrower ENUM)
CANON_KINDS = {"model_role": "model_roles", "spike_def_id": "spike_defs"}
SITE_COLUMNS = ("condition_index", "seq_id", "layer", "token", "a")


@dataclass(frozen=True)
class SequenceSites:
    """Sites in sequence order with run boundaries, and each sequence's lattice (L, T)."""
    columns: dict[str, np.ndarray]  # SITE_COLUMNS -> integer arrays, sorted
    conditions: pd.DataFrame        # per condition_index: CONDITION_KEYS, n_layers, seq_len
    sequence_starts: np.ndarray     # int64 [n_sequences + 1] row offsets
    layer_starts: np.ndarray        # int64 [n_layer_rows + 1] row offsets

    @property
    def n_sequences(self) -> int:
        return self.sequence_starts.size - 1

    def _per_sequence(self, name: str) -> np.ndarray:
        return self.conditions[name].to_numpy(np.int64)[self.columns["condition_index"][self.sequence_starts[:-1]]]

    @property
    def sequence_layers(self) -> np.ndarray:
        return self._per_sequence("n_layers")

    @property
    def sequence_tokens(self) -> np.ndarray:
        return self._per_sequence("seq_len")

    def keyed_columns(self, row_index: np.ndarray) -> dict:
        """Condition keys (key strings as categoricals) of the given site rows."""
        condition = self.columns["condition_index"][row_index]
        columns = {}
        for name in CONDITION_KEYS:
            values = self.conditions[name]
            if name in CANON_KINDS:  # the project's ENUM of every CANON value, as int_raster_layer_counts
                columns[name] = canon_categorical(values.astype(str).tolist(), condition, CANON_KINDS[name])
            else:
                columns[name] = values.to_numpy()[condition]
        return columns

    def keyed_rows(self, row_index: np.ndarray, extra: tuple[str, ...]) -> pd.DataFrame:
        """Condition keys and the `extra` site columns of the given site rows."""
        return pd.DataFrame({**self.keyed_columns(row_index),
                             **{name: self.columns[name][row_index] for name in extra}})


def run_starts(columns: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    """Row offsets where any of `names` changes, with 0 and n at the ends."""
    n = columns[names[0]].size
    if n == 0:
        return np.zeros(1, dtype=np.int64)
    changed = np.zeros(n, dtype=bool)
    changed[0] = True
    for name in names:
        values = columns[name]
        changed[1:] |= values[1:] != values[:-1]
    return np.append(np.flatnonzero(changed), n).astype(np.int64)


@numba.njit(nogil=True, cache=True)
def _rows_sorted(condition_index, seq_id, layer, token) -> bool:
    for i in range(1, condition_index.size):
        previous = (condition_index[i - 1], seq_id[i - 1], layer[i - 1], token[i - 1])
        if (condition_index[i], seq_id[i], layer[i], token[i]) < previous:
            return False
    return True


def _is_sorted(columns: dict[str, np.ndarray]) -> bool:
    """Lexicographically non-decreasing in SITE_COLUMNS order (without `a`)."""
    return bool(_rows_sorted(*(columns[name] for name in SITE_COLUMNS[:-1])))


def _integers(values) -> np.ndarray:
    """The column as it comes when integer (the build's sites are 32-bit: half the memory), else int64."""
    values = np.asarray(values)
    return values if np.issubdtype(values.dtype, np.integer) else values.astype(np.int64)


def group_sites(columns: dict[str, np.ndarray], conditions: pd.DataFrame) -> SequenceSites:
    """Sequence and layer runs of the sites (sorted here when they do not come sorted)."""
    columns = {name: _integers(columns[name]) for name in SITE_COLUMNS}
    if not _is_sorted(columns):
        order = np.lexsort(tuple(columns[name] for name in reversed(SITE_COLUMNS[:-1])))
        columns = {name: values[order] for name, values in columns.items()}
    conditions = conditions.sort_values("condition_index").reset_index(drop=True)
    if not np.array_equal(conditions.condition_index.to_numpy(), np.arange(len(conditions))):
        raise ValueError("condition_index must number the conditions 0..C-1")
    return SequenceSites(columns, conditions, run_starts(columns, SITE_COLUMNS[:2]),
                         run_starts(columns, SITE_COLUMNS[:3]))


def sites_from_frame(sites: pd.DataFrame, lattices: pd.DataFrame) -> SequenceSites:
    """From plain frames: sites with CONDITION_KEYS, seq_id, layer, token, a; lattices with
    CONDITION_KEYS, n_layers, seq_len (tests and small inputs)."""
    conditions = lattices[CONDITION_KEYS + ["n_layers", "seq_len"]].sort_values(CONDITION_KEYS).reset_index(drop=True)
    conditions.insert(0, "condition_index", np.arange(len(conditions)))
    index = pd.MultiIndex.from_frame(conditions[CONDITION_KEYS])
    position = index.get_indexer(pd.MultiIndex.from_frame(sites[CONDITION_KEYS]))
    if (position < 0).any():
        raise ValueError("sites of a condition without a lattice")
    columns = {"condition_index": position, **{name: sites[name].to_numpy() for name in SITE_COLUMNS[1:]}}
    return group_sites(columns, conditions)
