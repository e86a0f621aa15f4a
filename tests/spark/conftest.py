"""Spark route tests (issue 13): run by `make test-spark` only (pytest's testpaths are tests/python).

Inputs are small embedded data: the synthetic generator on a 4-layer, 16-token, 16-sequence lattice,
written as a user events/summaries pair (every gate passes on it), so both engines read the same
files and each build takes a few minutes even on Spark.
"""

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gatehouse.criticality import synthetic

LATTICE = synthetic.Lattice(n_layers=4, seq_len=16, n_sequences=16, d_ff=1024)
ROLES = ("INSTRUCT", "BASE")


def write_spike_inputs(folder: Path, events, summaries) -> dict:
    """The events and summaries as parquet (events from numpy, so a NaN stays a NaN); the vars of a build on them."""
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({name: events[name].to_numpy() for name in events.columns}), folder / "events.parquet")
    summaries.to_parquet(folder / "summaries.parquet")
    return {"spike_source": "events", "spike_events_path": str(folder / "events.parquet"),
            "spike_summaries_path": str(folder / "summaries.parquet")}


@pytest.fixture(scope="session")
def small_spikes():
    return synthetic.generate("crossing", 5, ROLES, lattice=LATTICE)


@pytest.fixture(scope="session")
def output_dir(tmp_path_factory) -> Path:
    """Where the builds and the comparison report go: $GATEHOUSE_SPARK_TEST_OUT, else a pytest temp folder."""
    explicit = os.environ.get("GATEHOUSE_SPARK_TEST_OUT")
    folder = Path(explicit).resolve() if explicit else tmp_path_factory.mktemp("spark")  # dbt runs elsewhere
    folder.mkdir(parents=True, exist_ok=True)
    return folder
