"""The compiled passes over the events against numpy oracles (histogram bins, dense rasters)."""

import duckdb
import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality import event_readers, event_scan
from gatehouse.criticality.branching import LAYER_COUNT_COLUMNS, dense_layer_counts, expected_permutation_null, sequence_counts
from gatehouse.criticality.rate_match import bin_index

GAINS = (0.9, 1.0, 1.1)
N_SEQUENCES, N_LAYERS, SEQ_LEN = 5, 4, 16
CONDITIONS = [("SPIKE_ONE_SIDED_POS", 1e-5), ("SPIKE_ONE_SIDED_POS", 2e-5),
              ("SPIKE_TWO_SIDED_ABS", 1e-5), ("SPIKE_TWO_SIDED_ABS", 2e-5)]


def random_events(seed=3):
    """Events stored in order (gain, seq_id, layer, token, unit), 0-3 units per site, z ~ N(0, 2)."""
    rng = np.random.default_rng(seed)
    rows = []
    for gain in GAINS:
        for seq in range(N_SEQUENCES):
            for layer in range(N_LAYERS):
                for token in range(SEQ_LEN):
                    for unit in range(rng.integers(0, 4)):
                        rows.append((gain, seq, layer, token, unit, rng.normal(0, 2)))
    frame = pd.DataFrame(rows, columns=["gain", "seq_id", "layer", "token", "unit", "z"])
    return frame.assign(model_role="INSTRUCT", seq_id=frame.seq_id.astype("int32"), layer=frame.layer.astype("int32"),
                        token=frame.token.astype("int32"), unit=frame.unit.astype("int32"),
                        z=frame.z.astype("float32"))


def random_taus(seed=4):
    rng = np.random.default_rng(seed)
    return pd.DataFrame([{"model_role": "INSTRUCT", "spike_def_id": spike_def, "target_rate": rate, "gain": gain,
                          "layer": layer, "tau": rng.uniform(0.5, 3.0)}
                         for spike_def, rate in CONDITIONS for gain in GAINS for layer in range(N_LAYERS)])


def relation(frame):
    con = duckdb.connect()
    con.register("events_frame", frame)
    return event_readers.RelationEvents(con.sql("select * from events_frame"))


def oracle_layer_counts(events, taus):
    """Dense A [N, L, T] per (condition, gain) with numpy, then `dense_layer_counts`."""
    rows = []
    for (spike_def, rate, gain), thresholds in taus.groupby(["spike_def_id", "target_rate", "gain"]):
        tau = thresholds.sort_values("layer").tau.to_numpy()
        part = events[events.gain == gain]
        z = part.z.to_numpy(np.float64)
        value = np.abs(z) if spike_def == "SPIKE_TWO_SIDED_ABS" else z
        spiking = part[value > tau[part.layer.to_numpy()]]
        spikes = np.zeros((N_SEQUENCES, N_LAYERS, SEQ_LEN), dtype=np.int64)
        np.add.at(spikes, (spiking.seq_id.to_numpy(), spiking.layer.to_numpy(), spiking.token.to_numpy()), 1)
        counts = dense_layer_counts(spikes)
        for seq, layer in zip(*np.nonzero(counts["n_occupied"])):
            rows.append({"spike_def_id": spike_def, "target_rate": rate, "gain": gain, "seq_id": seq, "layer": layer,
                         **{name: int(counts[name][seq, layer]) for name in LAYER_COUNT_COLUMNS}})
    return canonical(pd.DataFrame(rows))


def canonical(frame):
    keys = ["spike_def_id", "target_rate", "gain", "seq_id", "layer"]
    frame = frame.astype({"spike_def_id": str, "seq_id": "int64", "layer": "int64"})
    return frame[keys + list(LAYER_COUNT_COLUMNS)].sort_values(keys, ignore_index=True)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(event_readers, "BATCH_ROWS", 2048)  # sequences straddle batches


@pytest.mark.parametrize("workers", [1, 2])
def test_raster_layer_counts_match_the_dense_oracle(small_batches, monkeypatch, workers):
    monkeypatch.setattr(event_scan, "RASTER_WORKERS", workers)
    events, taus = random_events(), random_taus()
    counts = event_scan.raster_layer_counts(relation(events), taus, {"INSTRUCT": (SEQ_LEN, N_SEQUENCES)})
    assert len(counts) > 0
    pd.testing.assert_frame_equal(canonical(counts), oracle_layer_counts(events, taus))


def test_unordered_events_and_a_small_output_buffer_give_the_same_counts(small_batches):
    events, taus = random_events(), random_taus()
    shuffled = events.sample(frac=1.0, random_state=0)  # sequences not grouped: pass 2 lets DuckDB sort
    counts = event_scan.raster_layer_counts(relation(shuffled), taus, {"INSTRUCT": (SEQ_LEN, 1)})  # output grows
    pd.testing.assert_frame_equal(canonical(counts), oracle_layer_counts(events, taus))


def test_toy_raster_gives_the_unit_test_layer_counts():
    """spec/16 toy (L = 3, T = 4): occupied (1, 1), (1, 2) with two units, (2, 2); every z above tau."""
    sites = [(1, 1, 0), (1, 2, 0), (1, 2, 1), (2, 2, 0)]
    events = pd.DataFrame({"model_role": "INSTRUCT", "gain": 1.0, "seq_id": np.int32(0),
                           "layer": np.array([s[0] for s in sites], dtype=np.int32),
                           "token": np.array([s[1] for s in sites], dtype=np.int32),
                           "unit": np.array([s[2] for s in sites], dtype=np.int32), "z": np.float32(5.0)})
    taus = pd.DataFrame({"model_role": "INSTRUCT", "spike_def_id": "SPIKE_ONE_SIDED_POS", "target_rate": 1e-5,
                         "gain": 1.0, "layer": [0, 1, 2], "tau": 1.0})
    counts = event_scan.raster_layer_counts(relation(events), taus, {"INSTRUCT": (4, 1)})
    assert counts[["layer", *LAYER_COUNT_COLUMNS]].values.tolist() == [[1, 2, 3, 1, 1, 2, 1], [2, 1, 1, 0, 0, 1, 0]]


def values_of(events, spike_def, gain, layer):
    part = events[(events.gain == gain) & (events.layer == layer)]
    z = part.z.to_numpy(np.float64)
    return np.abs(z) if spike_def == "SPIKE_TWO_SIDED_ABS" else z


def summary_ranges(events, floors=None):
    """int_value_ranges rows that agree with `events` (v_min/v_max their extremes, n_above_tau0 their count
    above 2.5), histogram range [-8, 8] ([0, 8] two-sided), floors uniform in [0, 1] unless given."""
    rng = np.random.default_rng(5)
    rows = []
    for spike_def in ("SPIKE_ONE_SIDED_POS", "SPIKE_TWO_SIDED_ABS"):
        for gain in GAINS:
            for layer in range(N_LAYERS):
                v = values_of(events, spike_def, gain, layer)
                rows.append({"model_role": "INSTRUCT", "spike_def_id": spike_def, "gain": gain, "layer": layer,
                             "seq_len": SEQ_LEN, "n_sequences": N_SEQUENCES, "d_ff": 4,
                             "value_floor": rng.uniform(0.0, 1.0) if floors is None else floors,
                             "v_min_r": -8.0 if spike_def == "SPIKE_ONE_SIDED_POS" else 0.0, "v_max_r": 8.0,
                             "v_min": v.min(), "v_max": v.max(), "n_above_tau0": int((v > 2.5).sum())})
    return pd.DataFrame(rows)


def test_tail_histograms_match_numpy_bins(small_batches):
    events = random_events()
    ranges = summary_ranges(events)
    histograms = event_scan.tail_histograms(relation(events), ranges, 64)
    for row in ranges.itertuples():
        value = values_of(events, row.spike_def_id, row.gain, row.layer)
        kept = value[value > row.value_floor]
        expected = np.bincount(bin_index(kept, row.v_min_r, row.v_max_r, 64), minlength=64)
        got = np.zeros(64, dtype=np.int64)
        mine = histograms[(histograms.spike_def_id == row.spike_def_id) & (histograms.gain == row.gain)
                          & (histograms.layer == row.layer)]
        got[mine.bin_index.to_numpy()] = mine.n_values_in_bin.to_numpy()
        np.testing.assert_array_equal(got, expected)


SUMMARY_CONTRADICTIONS = {  # (column, change of one summary row, where the message points)
    "v_max_below_a_value": ("v_max", lambda value: value - 0.5, "value(s) above v_max"),
    # binned (above the floor 0) but below a v_min of 0.5; values below the floor are never binned
    "v_min_above_a_binned_value": ("v_min", lambda value: 0.5, "value(s) above the floor but below v_min"),
    "too_few_above_tau0": ("n_above_tau0", lambda value: value - 1, "more value(s) above TAU0_BASELINE"),
    "too_many_above_tau0_with_every_value_stored": ("n_above_tau0", lambda value: value + 1,
                                                    "fewer value(s) above TAU0_BASELINE"),
}


@pytest.mark.parametrize("case", SUMMARY_CONTRADICTIONS)
def test_summaries_that_contradict_the_events_are_refused(case):
    """Each contradiction would move tau or the target rates silently (the histogram clamps to [v_min, v_max];
    targets come from n_above_tau0), so pass 1 names the summary row instead. Floors 0 < TAU0_BASELINE:
    every value above the floor is an event row, so n_above_tau0 must equal the events' count."""
    events = random_events()
    ranges = summary_ranges(events, floors=0.0)
    column, change, message = SUMMARY_CONTRADICTIONS[case]
    row = ranges.index[(ranges.spike_def_id == "SPIKE_ONE_SIDED_POS") & (ranges.gain == 1.0) & (ranges.layer == 2)][0]
    ranges[column] = ranges[column].astype(object)
    ranges.loc[row, column] = change(ranges.loc[row, column])
    with pytest.raises(event_readers.EventsError, match="column z: ") as raised:
        event_scan.tail_histograms(relation(events), ranges, 64, source="summaries.parquet")
    text = str(raised.value)
    assert message in text and "spike_def_id=SPIKE_ONE_SIDED_POS, g=1.0, layer=2) in summaries.parquet" in text
    assert "1 summary row(s) disagree" in text


def test_n_above_tau0_may_exceed_the_events_when_the_floor_is_above_tau0():
    """A floor at or above TAU0_BASELINE stores only part of the values above it: more is not a contradiction."""
    events = random_events()
    ranges = summary_ranges(events, floors=3.0)
    ranges["n_above_tau0"] += 1000
    assert not event_scan.tail_histograms(relation(events), ranges, 64).empty


def test_dense_layer_counts_add_up_to_the_sequence_oracles():
    rasters = np.random.default_rng(6).random((7, 5, 12)) < 0.3
    counts = dense_layer_counts(rasters.astype(np.int64))
    total = sum((sequence_counts(raster) for raster in rasters[1:]), sequence_counts(rasters[0]))
    assert counts["n_occupied"].sum() == total.denom
    assert counts["num_time"].sum() == total.num_time
    assert counts["num_depth"].sum() == total.num_depth
    assert counts["n_occupied_time_valid"].sum() == total.denom_time_valid
    assert counts["n_occupied"][:, :-1].sum() == total.denom_depth_valid
    null = expected_permutation_null(rasters)
    k, k_next = counts["n_occupied"].astype(float), counts["n_occupied_next_layer"].astype(float)
    assert (k * (k - 1)).sum() / 12 / total.denom == pytest.approx(null["b_time_perm"], rel=1e-12)
    assert (k * k_next).sum() / 12 / total.denom == pytest.approx(null["b_depth_perm"], rel=1e-12)


def test_decimal_gains_read_as_the_grid_doubles():
    """Arrow's own decimal -> double cast gives 0.7000000000000001 for 0.70, which is not a grid gain."""
    from decimal import Decimal

    import pyarrow as pa

    gains = pa.array([Decimal("0.70"), Decimal("1.15"), Decimal("0.85")], pa.decimal128(4, 2))
    (read,) = event_readers._arrays(pa.table({"gain": gains}), ("gain",), "INSTRUCT")
    assert read.tolist() == [0.7, 1.15, 0.85]
