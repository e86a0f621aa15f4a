"""Hostile Phase 2 inputs: each is refused through the CLI with an error naming the file, the column
and the problem, exit code 2, and no run directory (one parametrized test per class of input)."""

import itertools
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gatehouse.cli import main

from ..published import published
from gatehouse import dbt_invoke
from gatehouse.criticality import synthetic
from gatehouse.project import canon

LATTICE = synthetic.Lattice(n_layers=4, seq_len=16, n_sequences=16, d_ff=1024)  # small, yet every gate passes
KEY = ["model_role", "gain", "seq_id", "layer", "token", "unit"]


@pytest.fixture(scope="module")
def clean_events():
    return synthetic.generate("crossing", 5, ("INSTRUCT",), lattice=LATTICE)


def clean_rasters():
    """88 INSTRUCT conditions of A [C, N=4, L=3, T=8] with 0-2 spikes per site, and their map."""
    constants = canon()
    grid = itertools.product(constants["spike_defs"], constants["target_rates"], constants["gain_grid"])
    conditions = pd.DataFrame([(cond_id, "INSTRUCT", *key) for cond_id, key in enumerate(grid)],
                              columns=["cond_id", "model_role", "spike_def_id", "target_rate", "gain"])
    counts = np.random.default_rng(7).integers(0, 3, (len(conditions), 4, 3, 8)).astype(np.uint16)
    return {"A": counts, "X": (counts > 0).astype(np.uint8), "cond_id": conditions.cond_id.to_numpy(np.int32),
            "seq_id": np.arange(4, dtype=np.int32)}, conditions


def gain_grid(capsys, runs_dir, *inputs, model_role="INSTRUCT"):
    code = main(["phase2", "gain-grid", "--runs-dir", str(runs_dir), "--model-role", model_role, *map(str, inputs)])
    return code, capsys.readouterr().err


def assert_refused(code, err, runs_dir, pattern):
    assert code == 2, err
    assert re.search(pattern, err), f"{pattern!r} not in:\n{err}"
    assert published(runs_dir) == []  # no run, no staging left (a failed attempt may be kept in runs/failed/)


def write_events(directory, events, summaries):
    """Written from numpy arrays, so a NaN stays a NaN (pandas would store a null)."""
    pq.write_table(pa.table({name: events[name].to_numpy() for name in events.columns}), directory / "events.parquet")
    summaries.to_parquet(directory / "summaries.parquet")
    return "--events", directory / "events.parquet", "--summaries", directory / "summaries.parquet"


def write_rasters(directory, arrays, conditions):
    np.savez(directory / "rasters.npz", **arrays)
    conditions.to_csv(directory / "conditions.csv", index=False)
    return "--rasters", directory / "rasters.npz", "--conditions", directory / "conditions.csv"


def one_row(frame, column, value, row=5):
    return frame.assign(**{column: frame[column].where(frame.index != row, value).astype(frame[column].dtype)})


# -- 1. event rows: the lattice the summaries declare (N, L, T, d_ff), finite z, unique keys ----------------------

@pytest.mark.parametrize("mutate, column, problem", [
    (lambda e: pd.concat([e, e.iloc[[-1]].assign(seq_id=np.int32(16))], ignore_index=True), "column seq_id",
     r"1 value\(s\) outside the lattice .*0\.\.15 \(n_sequences = 16 in \S*summaries\.parquet\)"),
    (lambda e: one_row(e, "unit", 1024), "column unit", r"1 value\(s\) outside the lattice .*0\.\.1023 \(d_ff = 1024"),
    (lambda e: one_row(e, "unit", -1), "column unit", r"outside the lattice .*d_ff = 1024"),
    (lambda e: one_row(e, "token", 16), "column token", r"outside the lattice .*0\.\.15 \(seq_len = 16"),
    (lambda e: one_row(e, "layer", 4), "column layer", r"outside the lattice .*0\.\.3 \(n_layers = 4"),
    (lambda e: one_row(e, "z", np.nan), "column z", r"1 non-finite value\(s\) \(NaN/inf\)"),
    (lambda e: pd.concat([e, e.iloc[[7]]]).sort_values(KEY)[["z", "unit", "token", "layer", "seq_id", "gain",
                                                              "model_role"]],
     "columns model_role/gain/seq_id/token/layer/unit", r"duplicate event .* appears 2 times"),
], ids=["seq_id_at_n_sequences", "unit_at_d_ff", "unit_negative", "token_at_T", "layer_at_L",
        "nan_z", "duplicate_other_column_order"])
def test_event_rows_outside_the_lattice_or_invalid_are_refused(tmp_path, capsys, clean_events, mutate, column,
                                                               problem):
    events, summaries = clean_events
    code, err = gain_grid(capsys, tmp_path / "runs", *write_events(tmp_path, mutate(events.copy()), summaries))
    assert_refused(code, err, tmp_path / "runs", rf"events\.parquet: {column}: .*{problem}")


# -- 2. summaries: every condition has the layers 0..L-1 of its model role --------------------------------------

def without(summaries, layer, gain=0.9, spike_def="SPIKE_ONE_SIDED_POS"):
    return summaries[~((summaries.layer == layer) & (summaries.gain == gain) & (summaries.spike_def_id == spike_def))]


@pytest.mark.parametrize("mutate, problem", [
    (lambda s: without(s, 3), r"\(INSTRUCT, SPIKE_ONE_SIDED_POS, g=0\.9\) has 3 distinct layers 0\.\.2, not 0\.\.3"),
    (lambda s: pd.concat([s, s.iloc[[2]]]), r"has 5 rows for 4 distinct layers: a layer appears more than once"),
    (lambda s: pd.concat([s, s[s.layer == 3].iloc[[0]].assign(layer=4)]), r"has 4 distinct layers 0\.\.3, not 0\.\.4"),
], ids=["top_layer_missing_in_one_condition", "layer_twice", "extra_layer_in_one_condition"])
def test_summaries_layers_must_be_the_roles_layers(tmp_path, capsys, clean_events, mutate, problem):
    events, summaries = clean_events
    code, err = gain_grid(capsys, tmp_path / "runs", *write_events(tmp_path, events, mutate(summaries.copy())))
    assert_refused(code, err, tmp_path / "runs", rf"summaries\.parquet: column layer: .*{problem}")


# -- 3. raster NPZ: a readable NPZ of spike counts --------------------------------------------------------------

def truncated(directory, arrays):
    np.savez(directory / "full.npz", **arrays)
    data = (directory / "full.npz").read_bytes()
    (directory / "rasters.npz").write_bytes(data[: len(data) // 2])


def with_count(arrays, value, dtype):
    counts = arrays["A"].astype(dtype)
    counts[3, 1, 2, 5] = value
    return {**arrays, "A": counts, "X": (counts > 0).astype(np.uint8)}


@pytest.mark.parametrize("mutate, problem", [
    (lambda a: with_count(a, np.nan, np.float64), r"key A: 1 NaN/inf value\(s\)"),
    (lambda a: with_count(a, -2, np.int32), r"key A: 1 negative value\(s\)"),
    (lambda a: with_count(a, 1.5, np.float32), r"key A: 1 non-integer value\(s\)"),
    (lambda a: with_count(a, 3_000_000_000, np.int64), r"key A: 1 value\(s\) above 2\^31 - 1"),
    (lambda a: with_count(a, 2**64 - 1, np.uint64), r"key A: 1 value\(s\) above 2\^31 - 1"),
    (lambda a: {**a, "A": a["A"].astype(str)}, r"key A: dtype <U\d+, expected counts"),
    (lambda a: {**a, "seq_id": np.array([0, 1, 1, 2], dtype=np.int32)}, r"key seq_id: duplicate values"),
    ("random_bytes", r"not a readable NPZ file"),
    ("truncated", r"not a readable NPZ file \(BadZipFile"),
    ("npy", r"not an NPZ file but a single array"),
    (lambda a: {**a, "X": a["X"] * 2}, r"key X: \d+ value\(s\) other than 0 and 1"),
], ids=["nan_count", "negative_count", "fractional_count", "count_beyond_int32", "uint64_max_count", "string_counts", "duplicate_seq_id", "random_bytes",
        "truncated_zip", "npy_not_npz", "occupancy_not_0_1"])
def test_raster_npz_must_hold_spike_counts(tmp_path, capsys, mutate, problem):
    arrays, conditions = clean_rasters()
    inputs = write_rasters(tmp_path, arrays if isinstance(mutate, str) else mutate(arrays), conditions)
    if mutate == "random_bytes":
        (tmp_path / "rasters.npz").write_bytes(np.random.default_rng(1).bytes(4096))
    elif mutate == "truncated":
        truncated(tmp_path, arrays)
    elif mutate == "npy":
        with open(tmp_path / "rasters.npz", "wb") as handle:
            np.save(handle, arrays["A"])
    code, err = gain_grid(capsys, tmp_path / "runs", *inputs)
    assert_refused(code, err, tmp_path / "runs", rf"rasters\.npz: .*{problem}")


@pytest.mark.parametrize("mutate, problem", [
    (lambda c: c.assign(gain=c.gain.where(c.cond_id != 1, c.gain[0])),
     r"condition \('INSTRUCT', 'SPIKE_ONE_SIDED_POS', 1e-05, 0\.7\) has cond_ids \[0, 1\]; one cond_id per condition"),
    (lambda c: c.assign(model_role=c.model_role.where(c.cond_id % 2 == 0, "BASE")),
     r"model_role BASE lacks 44 condition\(s\) of the grid"),
], ids=["two_cond_ids_one_condition", "half_the_conditions_relabelled"])
def test_raster_conditions_must_map_the_grid_once(tmp_path, capsys, mutate, problem):
    """Before the build: a repeated condition crashed a kernel, an incomplete grid failed only at gate C-GRID-1."""
    arrays, conditions = clean_rasters()
    code, err = gain_grid(capsys, tmp_path / "runs", *write_rasters(tmp_path, arrays, mutate(conditions)))
    assert_refused(code, err, tmp_path / "runs", rf"conditions\.csv: columns model_role/spike_def_id/target_rate/gain: "
                                                 rf".*{problem}")


def test_fractional_cond_id_in_the_condition_csv_is_refused_not_rounded(tmp_path, capsys):
    arrays, conditions = clean_rasters()
    conditions = conditions.assign(cond_id=conditions.cond_id.astype(float))
    conditions.loc[1, "cond_id"] += 0.5  # would round onto the next condition's id
    code, err = gain_grid(capsys, tmp_path / "runs", *write_rasters(tmp_path, arrays, conditions))
    assert_refused(code, err, tmp_path / "runs", r"conditions\.csv: column cond_id: 1 value\(s\) are not whole numbers")


# -- 4. empty model role or condition -------------------------------------------------------------------------

def emptied(arrays, conditions, cond_id=9):
    counts = arrays["A"].copy()
    counts[cond_id] = 0
    return {**arrays, "A": counts, "X": (counts > 0).astype(np.uint8)}, conditions


@pytest.mark.parametrize("write, model_role, pattern", [
    (lambda d, e, s: write_events(d, e, s), "BASE",
     r"summaries\.parquet: column model_role: no rows for model_role BASE: an empty condition"),
    (lambda d, e, s: write_events(d, e, pd.concat([s, s.assign(model_role="BASE")])), "BASE",
     r"events\.parquet: column gain: condition \(model_role=BASE, g=0\.7\) has no events: an empty condition"),
    (lambda d, e, s: write_rasters(d, *clean_rasters()), "BASE",
     r"conditions\.csv: column model_role: no condition for model_role BASE: an empty condition"),
    (lambda d, e, s: write_rasters(d, *emptied(*clean_rasters())), "INSTRUCT",
     r"rasters\.npz: key A: condition cond_id=9 has no occupied site: an empty condition"),
], ids=["role_without_summaries", "role_without_events", "role_without_raster_conditions", "condition_without_sites"])
def test_empty_model_role_or_condition_is_named(tmp_path, capsys, clean_events, write, model_role, pattern):
    code, err = gain_grid(capsys, tmp_path / "runs", *write(tmp_path, *clean_events), model_role=model_role)
    assert "Could not convert" not in err
    assert_refused(code, err, tmp_path / "runs", pattern)


# -- 5. errors of the summaries name the summaries ----------------------------------------------------------------

@pytest.mark.parametrize("mutate, pattern", [
    (lambda s: s.assign(n_sequences=8),
     r"events\.parquet: column seq_id: .*outside the lattice .*\(n_sequences = 8 in \S*summaries\.parquet\)"),
    (lambda s: s.assign(seq_len=8),
     r"events\.parquet: column token: .*outside the lattice .*\(seq_len = 8 in \S*summaries\.parquet\)"),
    (lambda s: one_row(s, "d_ff", 2048),
     r"summaries\.parquet: columns seq_len/n_sequences/d_ff: model_role INSTRUCT mixes several lattices"),
    (lambda s: s.assign(n_sequences=-16, d_ff=-1024),  # a positive product
     r"summaries\.parquet: column n_sequences: 88 value\(s\) not positive"),
    (lambda s: one_row(s, "v_min", 1e9), r"summaries\.parquet: columns v_min/v_max: 1 row\(s\) with v_min > v_max"),
    (lambda s: one_row(s, "n_above_tau0", -1),
     r"summaries\.parquet: column n_above_tau0: 1 value\(s\) outside \[0, n_sequences\*seq_len\*d_ff\]"),
    (lambda s: one_row(s, "n_above_tau0", 10**15),
     r"summaries\.parquet: column n_above_tau0: 1 value\(s\) outside \[0, n_sequences\*seq_len\*d_ff\]"),
    (lambda s: one_row(s.astype({"layer": "float64"}), "layer", 1.5),
     r"summaries\.parquet: column layer: 1 value\(s\) are not whole numbers"),
], ids=["fewer_sequences_than_the_events", "shorter_sequences_than_the_events", "d_ff_differs_in_one_layer",
        "negative_lattice", "v_min_above_v_max", "negative_count_above_tau0", "count_above_tau0_too_large",
        "fractional_layer"])
def test_summaries_errors_name_the_summaries(tmp_path, capsys, clean_events, mutate, pattern):
    events, summaries = clean_events
    code, err = gain_grid(capsys, tmp_path / "runs", *write_events(tmp_path, events, mutate(summaries.copy())))
    assert_refused(code, err, tmp_path / "runs", pattern)


def test_floor_above_tau_names_the_summaries_and_the_rate_above_the_floor(tmp_path, capsys, clean_events):
    events, summaries = clean_events
    code, err = gain_grid(capsys, tmp_path / "runs", *write_events(tmp_path, events, summaries.assign(
        floor=summaries.floor + 3)))
    pattern = (r"summaries\.parquet: column floor: rate matching \(INSTRUCT, .*\): target rate (\S+) needs a tau not "
               r"above the stored floor \S+ \(the values above the floor make up a rate of only (\S+)\)")
    assert_refused(code, err, tmp_path / "runs", pattern)
    target, rate_above_floor = map(float, re.search(pattern, err).groups())
    assert rate_above_floor <= target and "needs tau=" not in err  # not the first bin edge as "needed tau"


# -- 6. an input file that changes while the build runs -----------------------------------------------------------

@pytest.mark.parametrize("flag", ["events", "rasters"])
def test_input_changed_during_the_build_is_refused(tmp_path, capsys, monkeypatch, clean_events, flag):
    inputs = write_rasters(tmp_path, *clean_rasters()) if flag == "rasters" else write_events(tmp_path, *clean_events)
    path = inputs[inputs.index(f"--{flag}") + 1]
    build = dbt_invoke.dbt_build

    def build_then_change(*args, **kwargs):
        summary = build(*args, **kwargs)
        with open(path, "ab") as handle:  # another writer, after the build read the file
            handle.write(b"\0")
        return summary

    monkeypatch.setattr(dbt_invoke, "dbt_build", build_then_change)  # what runs.execute calls
    code, err = gain_grid(capsys, tmp_path / "runs", *inputs)
    assert_refused(code, err, tmp_path / "runs", rf"{re.escape(path.name)}: --{flag} changed while the build ran")
