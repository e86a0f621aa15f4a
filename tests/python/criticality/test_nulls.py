"""The circular-shift null (reference §7) and both nulls' known answers: exact marginals, delta_b >= 0
on a structured raster, about 0 on an i.i.d. raster."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality import branching, nulls
from gatehouse.criticality.bootstrap import condition_label
from gatehouse.criticality.raster_sites import sites_from_frame

KEYS = {"model_role": "INSTRUCT", "spike_def_id": "SPIKE_ONE_SIDED_POS", "target_rate": 1e-05}


def test_shift_seed_has_the_reference_fields():
    text = b"1337|RUN_X|INSTRUCT|SPIKE_ONE_SIDED_POS|1e-05|1.0|3|circ_shift|2|"
    assert nulls.shift_seed("RUN_X", "INSTRUCT|SPIKE_ONE_SIDED_POS|1e-05|1.0", 3, 2) == \
        int(hashlib.sha256(text).hexdigest()[:8], 16)
    assert {nulls.shift_from_seed(seed, 17) for seed in range(1000)} == set(range(1, 17))


def test_shift_keeps_each_layer_exactly():
    """§14 item 3: random A of shape 5 x 17 (seed 0, values 0..9)."""
    spikes = np.random.default_rng(0).integers(0, 10, size=(5, 17))
    shifts = np.array([nulls.shift_from_seed(nulls.shift_seed("R", "c", 0, layer), 17) for layer in range(5)])
    shifted = nulls.shifted_raster(spikes, shifts)
    assert (np.sort(shifted, axis=1) == np.sort(spikes, axis=1)).all()
    assert ((shifted > 0) == (nulls.shifted_raster(spikes > 0, shifts))).all()
    assert shifted[2, shifts[2]] == spikes[2, 0]  # A_shift[t] = A[(t - s) mod T]


def sites_of(rasters: dict[float, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Site and lattice frames for rasters [N, L, T] keyed by gain."""
    rows, lattices = [], []
    for gain, spikes in rasters.items():
        n, layer, token = np.nonzero(spikes)
        rows.append(pd.DataFrame({**KEYS, "gain": gain, "seq_id": n, "layer": layer, "token": token,
                                  "a": spikes[n, layer, token]}))
        lattices.append({**KEYS, "gain": gain, "n_layers": spikes.shape[1], "seq_len": spikes.shape[2]})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(lattices)


def dense_shift_counts(spikes: np.ndarray, shifts: np.ndarray) -> tuple[int, int]:
    x = nulls.shifted_raster(spikes, shifts) > 0
    return int((x[:, :-1] & x[:, 1:]).sum()), int((x[:-1, :] & x[1:, :]).sum())


def test_kernel_matches_a_dense_numpy_reference():
    rng = np.random.default_rng(3)
    rasters = {0.9: rng.integers(0, 3, size=(4, 5, 11)) * (rng.random((4, 5, 11)) < 0.3),
               1.1: rng.integers(0, 3, size=(3, 6, 9)) * (rng.random((3, 6, 9)) < 0.5)}
    sites, lattices = sites_of(rasters)
    grouped = sites_from_frame(sites, lattices)
    table = nulls.shift_null_counts(grouped, "RUN")
    for gain, spikes in rasters.items():
        label = f"INSTRUCT|SPIKE_ONE_SIDED_POS|1e-05|{gain!r}"
        for seq_id, sequence in enumerate(spikes):
            shifts = np.array([nulls.shift_from_seed(nulls.shift_seed("RUN", label, seq_id, layer), spikes.shape[2])
                               for layer in range(spikes.shape[1])])
            rows = table[(table.gain == gain) & (table.seq_id == seq_id)]
            assert (int(rows.num_time_shift.sum()), int(rows.num_depth_shift.sum())) == \
                dense_shift_counts(sequence, shifts)
            occupied = (sequence > 0).sum(axis=1)
            assert rows.set_index("layer").n_occupied_shift.to_dict() == \
                {layer: int(k) for layer, k in enumerate(occupied) if k}
            assert rows.n_spikes_shift.sum() == sequence.sum()
            assert rows.sum_sq_spikes_shift.sum() == (sequence ** 2).sum()


def pooled_shift_null(rasters: np.ndarray, run_id="RUN", gain=1.0) -> float:
    sites, lattices = sites_of({gain: rasters})
    table = nulls.shift_null_counts(sites_from_frame(sites, lattices), run_id)
    return float((table.num_time_shift.sum() + table.num_depth_shift.sum()) / (rasters > 0).sum())


def test_both_nulls_are_below_b_on_a_structured_raster():
    """Vertical and horizontal bars: neighbours are far more often occupied than by chance."""
    rasters = np.zeros((16, 12, 48), dtype=np.int64)
    for n in range(16):
        rasters[n, 2:9, 5 + n] = 1          # a bar across layers
        rasters[n, 4, 20 + n % 7: 30 + n % 7] = 2  # a bar along tokens
    b_tot = branching.branching(rasters > 0)["b_tot"]
    assert b_tot - branching.expected_permutation_null(rasters > 0)["b_tot_perm"] > 0.5
    assert b_tot - pooled_shift_null(rasters) > 0.3


def test_both_nulls_match_b_on_an_iid_raster():
    rasters = (np.random.default_rng(11).random((64, 28, 256)) < 0.17).astype(np.int64)
    b_tot = branching.branching(rasters > 0)["b_tot"]
    assert b_tot - branching.expected_permutation_null(rasters > 0)["b_tot_perm"] == pytest.approx(0, abs=0.003)
    assert b_tot - pooled_shift_null(rasters) == pytest.approx(0, abs=0.003)


def test_layer_shifts_are_shift_seed_of_each_layer_row():
    rng = np.random.default_rng(5)
    rasters = {0.9: rng.integers(0, 3, size=(3, 4, 7)) * (rng.random((3, 4, 7)) < 0.4),
               1.25: rng.integers(0, 3, size=(2, 5, 6)) * (rng.random((2, 5, 6)) < 0.6)}
    grouped = sites_from_frame(*sites_of(rasters))
    first_rows = grouped.layer_starts[:-1]
    expected = []
    for row in first_rows:
        condition = grouped.conditions.iloc[grouped.columns["condition_index"][row]]
        label = condition_label(condition.model_role, condition.spike_def_id, condition.target_rate, condition.gain)
        seed = nulls.shift_seed("RUN_S", label, int(grouped.columns["seq_id"][row]), int(grouped.columns["layer"][row]))
        expected.append(nulls.shift_from_seed(seed, int(condition.seq_len)))
    assert nulls.layer_shifts(grouped, "RUN_S").tolist() == expected
