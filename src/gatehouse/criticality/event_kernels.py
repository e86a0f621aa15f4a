"""Compiled per-event kernels of the two passes over the exceedance events (numba).

Both kernels work on one batch of one model role's events at a time and carry their state
across batches in small arrays, so the events are streamed, never held in memory.

- `histogram_batch` (pass 1) checks every row and adds the spec §4 histogram bin of each value
  above the floor, per (spike definition, gain, layer).
- `raster_layer_batch` (pass 2) counts the spikes v > tau per site of one sequence and, when the
  sequence ends, the per-(condition, layer) raster counts the branching ratios are pooled from.

Gains are addressed by their index in the grid; spike definitions by a value transform
(0: v = z, 1: v = |z|). Values are compared in float64, as in the numpy reference.
"""

from __future__ import annotations

import numba
import numpy as np

ISSUES = ("non_finite_z", "layer", "token", "seq_id", "unit", "gain", "order", "duplicate")
NON_FINITE, BAD_LAYER, BAD_TOKEN, BAD_SEQ, BAD_UNIT, BAD_GAIN, OUT_OF_ORDER, DUPLICATE = range(len(ISSUES))
# histogram_batch's per (spike def, gain, layer) tallies of values v that the summaries must agree with
TALLIES = ("below_v_min", "above_v_max", "above_tau0")
BELOW_V_MIN, ABOVE_V_MAX, ABOVE_TAU0 = range(len(TALLIES))

# raster_layer_batch status codes
BATCH_DONE, OUTPUT_FULL, SEQUENCES_NOT_GROUPED, ROW_OUTSIDE_LATTICE = range(4)
# columns of the raster-layer output rows
LAYER_COLUMNS = ("condition", "gain_index", "seq_id", "layer", "n_occupied", "n_spikes", "num_time", "num_depth",
                 "n_occupied_time_valid", "n_occupied_next_layer")


@numba.njit(nogil=True, cache=True)
def gain_index(grid, gain):
    for index in range(grid.shape[0]):
        if grid[index] == gain:
            return index
    return -1


@numba.njit(nogil=True, cache=True)
def owner(g, seq, n_workers):
    """The worker of sequence (gain index g, seq_id): neighbouring sequences alternate, so every
    worker is busy on every batch, and a sequence (with all its events) belongs to one worker."""
    return (g + seq) % n_workers


@numba.njit(nogil=True, cache=True)
def _compare_keys(p_g, p_s, p_l, p_t, p_u, g, s, l, t, u):
    """-1, 0, 1 as (g, s, l, t, u) is before, equal to, after the previous key (lexicographic)."""
    if g != p_g:
        return 1 if g > p_g else -1
    if s != p_s:
        return 1 if s > p_s else -1
    if l != p_l:
        return 1 if l > p_l else -1
    if t != p_t:
        return 1 if t > p_t else -1
    if u != p_u:
        return 1 if u > p_u else -1
    return 0


@numba.njit(nogil=True, cache=True)
def histogram_batch(gain, seq, layer, token, unit, z, n_workers, worker, grid, n_layers, seq_len, n_sequences, d_ff,
                    transform, lo, hi, floor, v_min, v_max, tau0, bins, hist, tallies, events_per_gain, issues,
                    bad_gain, previous):
    """Pass 1 over one batch: row checks, order check, histogram counts, for the rows of the
    sequences this worker owns (see `owner`; rows of unknown gains go to worker 0). Rows outside the
    lattice (layer < n_layers, token < seq_len, seq_id < n_sequences, unit < d_ff) are counted in `issues`.

    hist [D, G, L, bins]; lo/hi/floor/v_min/v_max [D, G, L]; tallies [D, G, L, 3] (TALLIES) counts what the
    summaries must agree with: binned values (v > floor) below v_min or above v_max, which the histogram
    would clamp, and values above tau0. previous int64[5] holds the worker's last key (gain index, seq_id,
    layer, token, unit), previous[0] = -1 before the first row.
    """
    p_g, p_s, p_l, p_t, p_u = previous[0], previous[1], previous[2], previous[3], previous[4]
    last_gain, g = np.nan, -1
    owned_g, owned_s, mine = -2, -1, False
    for i in range(z.shape[0]):
        if gain[i] != last_gain:
            last_gain, g = gain[i], gain_index(grid, gain[i])
        s, l, t, u = seq[i], layer[i], token[i], unit[i]
        if g != owned_g or s != owned_s:  # once per sequence: the modulo is slow
            owned_g, owned_s, mine = g, s, (owner(g, s, n_workers) if g >= 0 else 0) == worker
        if not mine:
            continue
        valid = True
        if g < 0:
            if issues[BAD_GAIN] == 0:
                bad_gain[0] = gain[i]
            issues[BAD_GAIN] += 1
            valid = False
        if not np.isfinite(z[i]):
            issues[NON_FINITE] += 1
            valid = False
        if l < 0 or l >= n_layers:
            issues[BAD_LAYER] += 1
            valid = False
        if t < 0 or t >= seq_len:
            issues[BAD_TOKEN] += 1
            valid = False
        if s < 0 or s >= n_sequences:
            issues[BAD_SEQ] += 1
            valid = False
        if u < 0 or u >= d_ff:
            issues[BAD_UNIT] += 1
            valid = False
        if not valid:
            continue
        if p_g >= 0:
            order = _compare_keys(p_g, p_s, p_l, p_t, p_u, g, s, l, t, u)
            if order == 0:
                issues[DUPLICATE] += 1
            elif order < 0:
                issues[OUT_OF_ORDER] += 1
        p_g, p_s, p_l, p_t, p_u = g, s, l, t, u
        events_per_gain[g] += 1
        z64 = np.float64(z[i])
        for d in range(transform.shape[0]):
            v = abs(z64) if transform[d] == 1 else z64
            if v > tau0:
                tallies[d, g, l, ABOVE_TAU0] += 1
            if v > floor[d, g, l]:
                if v < v_min[d, g, l]:
                    tallies[d, g, l, BELOW_V_MIN] += 1
                elif v > v_max[d, g, l]:
                    tallies[d, g, l, ABOVE_V_MAX] += 1
                low, high = lo[d, g, l], hi[d, g, l]
                clamped = min(max(v, low), high)
                b = int(np.floor((clamped - low) * bins / (high - low)))
                hist[d, g, l, min(max(b, 0), bins - 1)] += 1
    previous[0], previous[1], previous[2], previous[3], previous[4] = p_g, p_s, p_l, p_t, p_u


@numba.njit(nogil=True, cache=True)
def _flush_sequence(counts, site_seen, touched, n_touched, stats, g, s, n_layers, seq_len, out, n_out):
    """Per (condition, layer) counts of the finished sequence into `out`; reset the buffers."""
    n_conditions = counts.shape[2]
    for index in range(n_touched):
        site = touched[index]
        l, t = site // seq_len, site % seq_len
        for c in range(n_conditions):
            a = counts[l, t, c]
            if a == 0:
                continue
            stats[c, l, 0] += 1
            stats[c, l, 1] += a
            if t < seq_len - 1:
                stats[c, l, 4] += 1
                if counts[l, t + 1, c] > 0:
                    stats[c, l, 2] += 1
            if l < n_layers - 1 and counts[l + 1, t, c] > 0:
                stats[c, l, 3] += 1
    for c in range(n_conditions):
        for l in range(n_layers):
            if stats[c, l, 0] == 0:
                continue
            out[0, n_out], out[1, n_out], out[2, n_out], out[3, n_out] = c, g, s, l
            for column in range(5):
                out[4 + column, n_out] = stats[c, l, column]
            out[9, n_out] = stats[c, l + 1, 0] if l < n_layers - 1 else 0
            n_out += 1
    for index in range(n_touched):
        site = touched[index]
        counts[site // seq_len, site % seq_len, :] = 0
        site_seen[site] = False
    stats[:] = 0
    return n_out


@numba.njit(nogil=True, cache=True)
def raster_layer_batch(gain, seq, layer, token, z, start, n_workers, worker, grid, transform, tau, lowest_tau,
                       counts, site_seen, touched, stats, state, out):
    """Pass 2 over one batch from row `start`: spikes v > tau[g, layer, c] per site of the current
    sequence (lowest_tau[g, layer] = min over c); a finished sequence is flushed into
    `out` [LAYER_COLUMNS, rows] (column-major).

    counts [L, T, C] int64, site_seen [L*T] bool, touched [L*T] int64, stats [C, L, 5] int64 are the
    buffers of the current sequence; state int64[4] = (gain index, seq_id, n_touched, rows in out),
    state[0] = -1 before the first row. Only the sequences the worker owns are counted; they must
    come grouped, in increasing (gain, seq_id).
    Returns (status, next row): OUTPUT_FULL asks the caller to grow `out` and call again from there.
    """
    n_layers, seq_len, n_conditions = counts.shape
    room_needed = n_conditions * n_layers
    current_g, current_s, n_touched = state[0], state[1], state[2]
    status, stop = BATCH_DONE, z.shape[0]
    last_gain, g = np.nan, -1
    owned_g, owned_s, mine = -2, -1, False
    for i in range(start, z.shape[0]):
        if gain[i] != last_gain:
            last_gain, g = gain[i], gain_index(grid, gain[i])
        s, l, t = seq[i], layer[i], token[i]
        if g != owned_g or s != owned_s:  # once per sequence: the modulo is slow
            owned_g, owned_s, mine = g, s, g < 0 or owner(g, s, n_workers) == worker
        if not mine:
            continue
        if g < 0 or l < 0 or l >= n_layers or t < 0 or t >= seq_len:
            status, stop = ROW_OUTSIDE_LATTICE, i
            break
        if g != current_g or s != current_s:
            if current_g >= 0:
                if g < current_g or (g == current_g and s < current_s):
                    status, stop = SEQUENCES_NOT_GROUPED, i
                    break
                if out.shape[1] - state[3] < room_needed:
                    status, stop = OUTPUT_FULL, i
                    break
                state[3] = _flush_sequence(counts, site_seen, touched, n_touched, stats, current_g, current_s,
                                           n_layers, seq_len, out, state[3])
                n_touched = 0
            current_g, current_s = g, s
        z64 = np.float64(z[i])
        magnitude = abs(z64)
        if magnitude <= lowest_tau[g, l]:  # v <= |z|: no condition spikes (most events stop here)
            continue
        spiked = 0
        for c in range(n_conditions):  # branch-free: the comparisons are unpredictable
            above = (magnitude if transform[c] == 1 else z64) > tau[g, l, c]
            counts[l, t, c] += above
            spiked |= above
        site = l * seq_len + t
        if spiked and not site_seen[site]:
            site_seen[site] = True
            touched[n_touched] = site
            n_touched += 1
    state[0], state[1], state[2] = current_g, current_s, n_touched
    return status, stop


@numba.njit(nogil=True, cache=True)
def finish_rasters(counts, site_seen, touched, stats, state, out):
    """Flush the last sequence (the caller guarantees room for C * L rows)."""
    if state[0] >= 0 and state[2] > 0:
        state[3] = _flush_sequence(counts, site_seen, touched, state[2], stats, state[0], state[1],
                                   counts.shape[0], counts.shape[1], out, state[3])
        state[2] = 0
    return state[3]
