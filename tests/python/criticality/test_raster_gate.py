"""Gate C-RS-1 (pass 2's counts against the SQL rasters) finds exactly the rows where the two differ:
its compiled SQL, run on a copy of a real gain-grid run's warehouse, before and after tampering."""

import shutil

import duckdb
import pytest

GATE = "dbt/compiled/gatehouse/tests/criticality/intermediate/gate_raster_layer_counts_match_sql_rasters.sql"
KEY = ["model_role", "spike_def_id", "target_rate", "gain", "seq_id", "layer"]


@pytest.fixture
def warehouse(crossing_runs, tmp_path):
    _, grid_dir, _ = crossing_runs
    shutil.copyfile(grid_dir / "warehouse.duckdb", tmp_path / "warehouse.duckdb")  # same catalog name
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con, (grid_dir / GATE).read_text()
    con.close()


def failing_keys(con, gate: str) -> set[tuple]:
    return {tuple(row[:6]) for row in con.execute(gate).fetchall()}


def test_gate_passes_on_the_run_and_names_each_tampered_row(warehouse):
    con, gate = warehouse
    assert failing_keys(con, gate) == set()
    picked = con.execute(f"select {', '.join(KEY)}, n_occupied from int_raster_layer_counts "
                         f"where n_occupied >= 2 order by {', '.join(KEY)} limit 3").fetchall()
    assert len(picked) == 3
    key = " and ".join(f"{name} = ?" for name in KEY)
    con.execute(f"update int_raster_layer_counts set n_spikes = n_spikes + 1 where {key}", picked[0][:6])
    con.execute(f"update int_raster_layer_counts set num_time = num_time + 1 where {key}", picked[1][:6])
    con.execute(f"delete from int_raster_layer_counts where {key}", picked[2][:6])
    assert failing_keys(con, gate) == {tuple(row[:6]) for row in picked}


def test_gate_finds_a_site_missing_from_the_sql_rasters(warehouse):
    con, gate = warehouse
    site = con.execute("select condition_index, seq_id, layer, token from int_raster_sites "
                       "order by condition_index, seq_id, layer, token limit 1 offset 1000").fetchone()
    con.execute("delete from int_raster_sites where condition_index = ? and seq_id = ? and layer = ? and token = ?",
                site)
    keys = con.execute("select model_role, spike_def_id, target_rate, gain from int_raster_conditions "
                       "where condition_index = ?", site[:1]).fetchone()
    failing = failing_keys(con, gate)
    assert (*keys, site[1], site[2]) in failing
    # the layer below sees one occupied site fewer above it (num_depth or k of the next layer)
    assert failing <= {(*keys, site[1], site[2]), (*keys, site[1], site[2] - 1)}
