"""Each bad input gives a clear error naming the file, the column and the problem."""

import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality import loaders, synthetic
from gatehouse.criticality.loaders import InputError

LATTICE = synthetic.Lattice(n_layers=4, seq_len=16, n_sequences=8, d_ff=512)


@pytest.fixture(scope="module")
def small_inputs():
    return synthetic.generate("crossing", 5, ("INSTRUCT",), lattice=LATTICE)


def validate(tmp_path, events, summaries):
    events.to_parquet(tmp_path / "events.parquet")
    summaries.to_parquet(tmp_path / "summaries.parquet")
    loaders.validate_spike_inputs(tmp_path / "events.parquet", tmp_path / "summaries.parquet")


def test_valid_inputs_pass(tmp_path, small_inputs):
    validate(tmp_path, *small_inputs)


@pytest.mark.parametrize("mutation, message", [
    (lambda e, s: (e, s[s.layer != 2]), r"summaries.parquet: column layer: .* has 3 distinct layers 0..3.*missing layers"),
    (lambda e, s: (e.assign(z=np.where(e.index == 5, np.inf, e.z)), s), r"events.parquet: column z: 1 non-finite"),
    (lambda e, s: (pd.concat([e, e.iloc[[7]]]), s), r"events.parquet: columns model_role/gain/seq_id/token/layer/unit: duplicate event"),
    (lambda e, s: (e, s.assign(spike_def_id=s.spike_def_id.replace("SPIKE_TWO_SIDED_ABS", "SPIKE_BOTH"))),
     r"summaries.parquet: column spike_def_id: unknown spike_def_id \['SPIKE_BOTH'\]"),
    (lambda e, s: (e.assign(gain=e.gain.replace(0.8, 0.75)), s), r"events.parquet: column gain: gain\(s\) \[0.75\]"),
    (lambda e, s: (e, s.assign(d_ff=8)), r"summaries.parquet: columns n_sequences\*seq_len\*d_ff: .* below RATE_MATCH_MIN_CAL_SAMPLES"),
    (lambda e, s: (e[e.gain != 0.9], s), r"events.parquet: column gain: condition \(model_role=INSTRUCT, g=0.9\) has no events"),
    (lambda e, s: (e.assign(token=e.token + 16), s), r"events.parquet: column token: .* outside the lattice"),
    (lambda e, s: (e.drop(columns="unit"), s), r"events.parquet: missing column\(s\) unit"),
    (lambda e, s: (e.assign(layer=e.layer.astype(str)), s), r"events.parquet: column layer: type VARCHAR, expected INTEGER"),
    (lambda e, s: (e.assign(z=e.z.where(e.index != 3)), s), r"events.parquet: column z: 1 null or mistyped value"),
    (lambda e, s: (e.assign(model_role="OTHER"), s), r"events.parquet: column model_role: model_role\(s\) without summaries"),
    (lambda e, s: (e.assign(layer=e.layer.astype("int64").where(e.index != 9, 2**40)), s),
     r"events.parquet: column layer: value\(s\) do not fit int32"),
])
def test_bad_inputs_are_named(tmp_path, small_inputs, mutation, message):
    events, summaries = mutation(small_inputs[0].copy(), small_inputs[1].copy())
    with pytest.raises(InputError, match=message):
        validate(tmp_path, events, summaries)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="summaries.parquet: file not found"):
        loaders.validate_spike_inputs(tmp_path / "events.parquet", tmp_path / "summaries.parquet")
