"""The within-layer circular-shift null (reference §7) on the occupied raster sites.

Per (condition c, sequence, layer l) a shift s in [1, T-1] rolls the layer's row:
A_shift[l, t] = A[l, (t - s) mod T] (numpy.roll), X_shift = A_shift > 0. The shifted raster is pooled
like the real one: time pairs (t, t+1) inside each layer and depth pairs (l, l+1) at the same token.

Seed fields as in the reference: seed = int(sha256("1337|{run_id}|{cond_id}|{seq_id}|circ_shift|{l}|")[:8], 16)
(every field followed by "|"). The shift is drawn from that seed as s = 1 + seed mod (T - 1) instead of
numpy's default_rng(seed).integers(1, T): the same seed fields and range, no PCG64 state per layer (one
generator per layer costs about 10 µs, seconds over a grid). The modulo bias is below 2^-24.

Invariant (gate C-NL-2): every shifted layer row holds exactly the values of the original row
(sorted(A_shift[l]) == sorted(A[l])); the kernel reports the shifted rows' occupied sites, spikes and
sum of squared spikes per layer so the build can compare them with the raster's own counts.
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd

from gatehouse.criticality.bootstrap import SEED_BASE, condition_label, seed_of_text
from gatehouse.criticality.raster_sites import CONDITION_KEYS, SequenceSites

SHIFT_COLUMNS = ("n_occupied", "n_occupied_shift", "n_spikes_shift", "sum_sq_spikes_shift",
                 "num_time_shift", "num_depth_shift")


def shift_seed(run_id: str, cond_id: str, seq_id: int, layer: int) -> int:
    return seed_of_text(_shift_seed_text(_condition_prefix(run_id, cond_id), seq_id, layer))


def _condition_prefix(run_id: str, cond_id: str) -> str:
    return f"{SEED_BASE}|{run_id}|{cond_id}|"


def _shift_seed_text(condition_prefix: str, seq_id: int, layer: int) -> str:
    """The seed fields joined by '|': SEED_BASE, run_id, cond_id, seq_id, circ_shift, layer and an empty last."""
    return f"{condition_prefix}{seq_id}|circ_shift|{layer}|"


def shift_from_seed(seed, seq_len):
    """A shift in [1, T-1] (T >= 2); ints or int64 arrays."""
    return 1 + seed % (seq_len - 1)


def circular_shift(row: np.ndarray, shift: int) -> np.ndarray:
    """A_shift[t] = A[(t - shift) mod T]."""
    return np.roll(np.asarray(row), shift)


def layer_shifts(grouped: SequenceSites, run_id: str) -> np.ndarray:
    """The shift of every layer row of `grouped` (int64, in layer-row order): shift_seed of each row, with
    each condition's leading fields joined once (a layer row costs one hash, not a join of seven fields)."""
    first_rows = grouped.layer_starts[:-1]
    condition = grouped.columns["condition_index"][first_rows]
    seq_ids, layers = grouped.columns["seq_id"][first_rows], grouped.columns["layer"][first_rows]
    seq_len = grouped.conditions.seq_len.to_numpy(np.int64)[condition]
    prefixes = [_condition_prefix(run_id, condition_label(*keys))
                for keys in grouped.conditions[CONDITION_KEYS].itertuples(index=False)]
    seeds = [seed_of_text(_shift_seed_text(prefixes[c], seq_id, layer))
             for c, seq_id, layer in zip(condition.tolist(), seq_ids.tolist(), layers.tolist())]
    return shift_from_seed(np.array(seeds, dtype=np.int64), seq_len)


def _layer_rows_per_sequence(grouped: SequenceSites) -> np.ndarray:
    """Offsets into the layer rows where each sequence starts ([n_sequences + 1])."""
    return np.searchsorted(grouped.layer_starts, grouped.sequence_starts)


@numba.njit(nogil=True, cache=True)
def _shift_kernel(sequence_starts, sequence_layer_rows, layer_starts, n_layers, seq_len, layer, token, a, shifts, out):
    """out [len(SHIFT_COLUMNS), layer rows]: per layer row the original occupied count and the
    shifted row's counts, with its depth pairs to the (shifted) layer above."""
    max_l, max_t = n_layers.max(), seq_len.max()
    shifted = np.zeros((max_l, max_t), dtype=np.int64)
    for q in range(sequence_starts.shape[0] - 1):
        first_row, last_row = sequence_layer_rows[q], sequence_layer_rows[q + 1]
        T = seq_len[q]
        for r in range(first_row, last_row):
            for i in range(layer_starts[r], layer_starts[r + 1]):
                shifted[layer[i], (token[i] + shifts[r]) % T] = a[i]
        for r in range(first_row, last_row):
            l = layer[layer_starts[r]]
            out[0, r] = layer_starts[r + 1] - layer_starts[r]
            for t in range(T):
                value = shifted[l, t]
                if value > 0:
                    out[1, r] += 1
                    out[2, r] += value
                    out[3, r] += value * value
                    if t < T - 1 and shifted[l, t + 1] > 0:
                        out[4, r] += 1
                    if l + 1 < n_layers[q] and shifted[l + 1, t] > 0:
                        out[5, r] += 1
        for r in range(first_row, last_row):
            l = layer[layer_starts[r]]
            shifted[l, :T] = 0


def shift_null_counts(grouped: SequenceSites, run_id: str) -> pd.DataFrame:
    """int_shift_null_layer_counts: one row per occupied (condition, seq_id, layer)."""
    first_rows = grouped.layer_starts[:-1]
    out = np.zeros((len(SHIFT_COLUMNS), first_rows.size), dtype=np.int64)
    if first_rows.size:
        columns = grouped.columns
        _shift_kernel(grouped.sequence_starts, _layer_rows_per_sequence(grouped), grouped.layer_starts,
                      grouped.sequence_layers, grouped.sequence_tokens, columns["layer"], columns["token"],
                      columns["a"], layer_shifts(grouped, run_id), out)
    frame = grouped.keyed_rows(first_rows, ("seq_id", "layer"))
    frame = frame.assign(seq_id=frame.seq_id.astype(np.int32), layer=frame.layer.astype(np.int32))
    for name, values in zip(SHIFT_COLUMNS, out):
        frame[name] = values
    return frame


def shifted_raster(spikes: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Reference version on a dense raster [L, T]: each layer rolled by its shift."""
    return np.stack([circular_shift(row, int(shift)) for row, shift in zip(spikes, shifts)])
