"""`gatehouse sites run` end to end: publication, determinism, the rerun matrix, a 30-arc-second
single-country run behind a verified 1A gate, and bad input (named error, non-zero exit, nothing
published).

dbt builds are expensive, so the two default runs are made once per test session and shared across
xdist workers through a file lock; every bad input that Python can see is checked without dbt.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from gatehouse import cli
from gatehouse.dbt_invoke import dbt_build
from gatehouse.project import project_dir

PROJECT_DIR = project_dir()
from gatehouse.runs import EXIT_FAILED, EXIT_RUN_EXISTS, sha256_file
from gatehouse.sites.outputs import bundle
from gatehouse.sites.inputs import geodata, policy
from gatehouse.sites.dbt_steps import sources

from ..published import failed_attempts, nothing_published

DEFAULT_SITES, DEFAULT_COUNTRIES = 102_134, 232  # surrogate catalogue of 1B seed 42 (policies/sites/outlets_1a.yaml)
UPSTREAM_MF = "cd" * 32


# ---------------------------------------------------------------------------------------------------
# helpers and shared runs


@contextmanager
def exclusive(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def gatehouse(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gatehouse.cli", *args], capture_output=True, text=True,
                          cwd=PROJECT_DIR, env={**os.environ, "DO_NOT_TRACK": "1"})


def only_run(runs_dir: Path) -> Path:
    runs = sorted(runs_dir.glob("RUN_*"))
    assert len(runs) == 1, runs
    return runs[0]




@pytest.fixture(scope="session")
def shared_root(tmp_path_factory, worker_id) -> Path:
    base = tmp_path_factory.getbasetemp()
    return (base if worker_id == "master" else base.parent) / "sites_cli_shared"


@pytest.fixture(scope="session")
def default_runs(shared_root) -> dict:
    """Two CLI runs with --seed 42 into separate runs dirs (built once per session, by one worker)."""
    with exclusive(shared_root / "default.lock"):
        done = shared_root / "default.json"
        if not done.exists():
            for name in ("a", "b"):
                completed = gatehouse("sites", "run", "--seed", "42", "--runs-dir", str(shared_root / name))
                assert completed.returncode == 0, completed.stderr
            done.write_text(json.dumps({name: str(only_run(shared_root / name)) for name in ("a", "b")}))
        return {name: Path(path) for name, path in json.loads(done.read_text()).items()}


def read_sites(run_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "site_locations.parquet")


def policy_copy(tmp_path: Path, **tiles_changes) -> Path:
    directory = tmp_path / "policies"
    shutil.copytree(policy.default_policy_dir(), directory)
    tiles = directory / "tiles.yaml"
    text = tiles.read_text()
    for old, new in tiles_changes.values():
        assert old in text
        text = text.replace(old, new)
    tiles.write_text(text)
    return directory


# ---------------------------------------------------------------------------------------------------
# a successful run


def test_run_publishes_sites_record_and_a_passing_bundle(default_runs):
    run_dir = default_runs["a"]
    record = json.loads((run_dir / "run_record.json").read_text())
    assert record["stage_status"] == "complete" and record["phase_id"] == "SITES_1B" and record["seeds"] == [42]
    assert (record["counts"]["sites"], record["counts"]["countries"]) == (DEFAULT_SITES, DEFAULT_COUNTRIES)
    assert {test["status"] for test in record["dbt"]["tests"]} == {"pass"}
    gates = {test["gate"] for test in record["dbt"]["tests"]}
    assert {"S-S0-1", "S-S2-2", "S-S4-3", "S-S7-2", "S-S8-1", "S-S9-1", "S-S9-3", "S-S9-5", "S-S9-6", "S-S9-7"} <= gates
    assert set(record["state_seconds"]) >= {f"S{n}" for n in range(10)}

    sites = read_sites(run_dir)
    assert list(sites.columns) == ["merchant_id", "legal_country_iso", "site_order", "lon_deg", "lat_deg"]
    assert len(sites) == DEFAULT_SITES and sites["legal_country_iso"].nunique() == DEFAULT_COUNTRIES
    key = ["merchant_id", "legal_country_iso", "site_order"]
    assert sites.equals(sites.sort_values(key).reset_index(drop=True))  # written in PK order

    verified = bundle.verify_bundle(run_dir / record["validation"]["bundle"])  # our own flag rule
    assert verified.manifest_fingerprint == record["manifest_fingerprint"]
    assert verified.flag_sha256_hex == record["validation"]["passed_flag_sha256_hex"]
    checksums = json.loads((verified.path / "egress_checksums.json").read_text())
    assert checksums["files"][0]["sha256_hex"] == sha256_file(run_dir / "site_locations.parquet")
    rng = {row["state"]: row for row in json.loads((verified.path / "rng_accounting.json").read_text())["states"]}
    assert rng["S5"]["events"] == rng["S5"]["draws"] == DEFAULT_SITES
    assert rng["S6"]["events"] >= DEFAULT_SITES
    # settlement_clusters_v3: one substream per country; N // 2 cluster draws plus N shuffle draws each
    assert rng["S4"]["substream_label"] == "s4_cluster_draw" and rng["S4"]["events"] == DEFAULT_COUNTRIES
    per_country = sites.groupby("legal_country_iso").size()
    assert rng["S4"]["blocks"] == int((per_country + (per_country // 2).clip(lower=1)).sum())

    geo = pd.read_parquet(run_dir / "site_locations.geoparquet")
    assert list(geo.columns) == [*sites.columns, "geometry"] and len(geo) == DEFAULT_SITES
    assert len(list((run_dir / "maps").glob("map_seed42_*.png"))) == 4


def test_same_seed_and_inputs_give_byte_identical_outputs(default_runs):
    first, second = default_runs["a"], default_runs["b"]
    assert first.name == second.name  # the run id is a content hash of the resolved config
    assert sha256_file(first / "site_locations.parquet") == sha256_file(second / "site_locations.parquet")
    records = [json.loads((run / "run_record.json").read_text()) for run in (first, second)]
    assert records[0]["validation"] == records[1]["validation"]  # same bundle, same _passed.flag


def test_an_existing_run_directory_is_never_overwritten(default_runs):
    run_dir = default_runs["a"]
    before = sha256_file(run_dir / "run_record.json")
    completed = gatehouse("sites", "run", "--seed", "42", "--runs-dir", str(run_dir.parent))
    assert completed.returncode == EXIT_RUN_EXISTS and "already exists" in completed.stderr
    assert sha256_file(run_dir / "run_record.json") == before


def test_rerun_from_the_catalogue_with_a_new_seed_moves_sites_and_counts(default_runs, tmp_path):
    """The rerun matrix: a new 1B seed reads its own surrogate catalogue, so it rebuilds from the catalogue."""
    run_dir = default_runs["a"]
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(run_dir / "warehouse.duckdb", database)
    variables = json.loads((run_dir / "run_record.json").read_text())["dbt"]["inputs"] | {"sites_seeds": [7]}
    summary = dbt_build(["raw_1a__outlet_catalogue+"], variables, database, tmp_path / "dbt",
                        exclude=["tag:realism"])
    built = {node["name"] for node in summary["nodes"] if node["unique_id"].startswith("model.")}
    assert {"raw_1a__outlet_catalogue", "s3_requirements", "s4_alloc_plan", "site_locations"} <= built
    assert not {"s1_tile_index", "s2_tile_weights"} & built

    con = duckdb.connect(str(database), read_only=True)
    reseeded = con.execute("select * exclude (seed) from site_locations order by all").df()
    con.close()
    expected = sources.catalogue_table(sources.SitesInputs(seeds=(7,)), geodata.load_countries(),
                                       geodata.load_places(0), set(sources.iso_codes_table()["country_iso"]))
    pd.testing.assert_series_equal(reseeded.groupby("legal_country_iso").size(),
                                   expected.groupby("legal_country_iso").size())
    original = read_sites(run_dir)
    assert len(reseeded) != len(original)  # the country mix varies with the seed


def test_thirty_arc_seconds_for_one_country_behind_a_verified_1a_gate(tmp_path):
    catalogue = pd.DataFrame({
        "merchant_id": [1] * 5 + [2] * 3 + [3],
        "home_country_iso": ["LU"] * 8 + ["DE"],
        "legal_country_iso": ["LU"] * 9,
        "site_order": [1, 2, 3, 4, 5, 1, 2, 3, 1],
        "manifest_fingerprint": UPSTREAM_MF, "global_seed": 11,
    })
    catalogue.to_parquet(tmp_path / "outlets.parquet")
    gate = tmp_path / "1a" / f"manifest_fingerprint={UPSTREAM_MF}"
    flag = bundle.write_bundle(gate, {"MANIFEST.json": b'{"segment": "1A"}\n'})
    policies = policy_copy(tmp_path, res=("resolution_arcsec: 360", "resolution_arcsec: 30"),
                           only=("countries: []", "countries: [LU]"))

    # A one-country catalogue can never PASS the 1A guard (its country mix cannot rank-follow population),
    # so `sites run` refuses it; the chain itself is built here with plain dbt, as a user may.
    inputs = sources.SitesInputs(seeds=(5,), catalogue_path=tmp_path / "outlets.parquet", gate_bundle_path=gate,
                                 policy_dir=policies)
    database = tmp_path / "warehouse.duckdb"
    dbt_build(["tag:sites"], inputs.dbt_inputs(), database, tmp_path / "dbt", exclude=["tag:realism"])
    con = duckdb.connect(str(database), read_only=True)
    receipt = con.execute("select gate_status, flag_sha256_hex, upstream_manifest_fingerprint from s0_gate_receipt").fetchone()
    assert receipt == ("passed", flag, UPSTREAM_MF)
    assert con.execute("select count(*), count(distinct legal_country_iso) from site_locations").fetchone() == (9, 1)
    widths = con.execute("select distinct round(max_lon - min_lon, 12), round(max_lat - min_lat, 12), "
                         "count(*) over () from s1_tile_index").fetchall()
    in_country = con.execute("select bool_and(in_country) from s9_point_in_country").fetchone()[0]
    con.close()
    assert widths[0][:2] == (round(1 / 120, 12), round(1 / 120, 12)) and len(widths) == 1
    assert 3000 < widths[0][2] < 5000  # Luxembourg, ~2,600 km^2 at ~0.6 km^2 per 30" cell
    assert in_country


# ---------------------------------------------------------------------------------------------------
# bad input: refused before dbt (fast, in-process) ...


def write_catalogue(path: Path, rows) -> Path:
    pd.DataFrame(rows, columns=["merchant_id", "home_country_iso", "legal_country_iso", "site_order"]).to_parquet(path)
    return path


GOOD_ROWS = [(1, "DE", "DE", 1), (1, "DE", "DE", 2), (2, "FR", "FR", 1)]


@pytest.mark.parametrize("case, rows, code", [
    ("unknown_iso", GOOD_ROWS + [(3, "ZZ", "ZZ", 1)], "E302_UNKNOWN_ISO"),
    ("country_without_tiles", GOOD_ROWS + [(3, "FR", "RE", 1)], "E303_COUNTRY_WITHOUT_TILES"),
    ("site_order_gap", GOOD_ROWS + [(3, "FR", "FR", 1), (3, "FR", "FR", 3)], "E301_SITE_ORDER"),
    ("site_order_duplicate", GOOD_ROWS + [(3, "FR", "FR", 1), (3, "FR", "FR", 1)], "E301_SITE_ORDER"),
    ("negative_count", GOOD_ROWS + [(3, "FR", "FR", -2)], "E301_SITE_ORDER"),
    ("zero_rows", [], "E300_CATALOGUE_SCHEMA"),
])
def test_bad_catalogues_are_refused_before_dbt(tmp_path, capsys, case, rows, code):
    path = write_catalogue(tmp_path / f"{case}.parquet", rows)
    exit_code = cli.main(["sites", "run", "--seed", "1", "--outlet-catalogue", str(path),
                          "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and code in error and path.name in error
    assert nothing_published(tmp_path / "runs")


def test_corrupt_polygon_file_is_refused(tmp_path, capsys):
    corrupt = tmp_path / "countries.zip"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    exit_code = cli.main(["sites", "run", "--seed", "1", "--countries-zip", str(corrupt),
                          "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and "countries.zip: not a valid zip archive" in error
    assert nothing_published(tmp_path / "runs")


@pytest.mark.parametrize("damage, code", [("remove_flag", "E004_FLAG_MISSING"), ("alter_file", "E006_FLAG_MISMATCH")])
def test_a_failed_1a_gate_stops_the_run(tmp_path, capsys, damage, code):
    catalogue = write_catalogue(tmp_path / "outlets.parquet", GOOD_ROWS)
    gate = tmp_path / "1a"
    bundle.write_bundle(gate, {"MANIFEST.json": b"{}", "outlets.csv": b"x"})
    if damage == "remove_flag":
        (gate / "_passed.flag").unlink()
    else:
        (gate / "outlets.csv").write_bytes(b"y")
    exit_code = cli.main(["sites", "run", "--seed", "1", "--outlet-catalogue", str(catalogue),
                          "--gate-bundle", str(gate), "--runs-dir", str(tmp_path / "runs")])
    assert exit_code == EXIT_FAILED and code in capsys.readouterr().err
    assert nothing_published(tmp_path / "runs")


# ... and refused inside dbt, where only the build can see it


def test_country_without_tiles_stops_the_dbt_build_at_s3(tmp_path):
    """The surrogate catalogue spans 238 countries; a tiles policy for Luxembourg only leaves them untiled."""
    policies = policy_copy(tmp_path, only=("countries: []", "countries: [LU]"))
    completed = gatehouse("sites", "run", "--seed", "1", "--policy", str(policies),
                          "--runs-dir", str(tmp_path / "runs"))
    assert completed.returncode == EXIT_FAILED
    assert "s3_requirements" in completed.stderr
    assert "E303_COUNTRY_WITHOUT_TILES legal_country_iso=DE" in completed.stderr
    assert nothing_published(tmp_path / "runs")
    (attempt,) = failed_attempts(tmp_path / "runs")  # the evidence is kept, apart from good runs
    assert attempt.name.startswith("RUN_S1B_") and attempt.name.endswith("-1") and str(attempt) in completed.stderr
    record = json.loads((attempt / "run_record.json").read_text())
    assert record["stage_status"] == "failed" and "E303_COUNTRY_WITHOUT_TILES" in record["error"]
    assert (attempt / "warehouse.duckdb").is_file() and (attempt / "dbt").is_dir()


def test_plain_dbt_build_refuses_a_bad_catalogue(tmp_path):
    path = write_catalogue(tmp_path / "gappy.parquet", GOOD_ROWS + [(3, "FR", "FR", 2)])
    command = [str(Path(sys.executable).with_name("dbt")), "build", "--select", "+raw_1a__outlet_catalogue",
               "--vars", json.dumps({"sites_outlet_catalogue_path": str(path)}),
               "--target-path", str(tmp_path / "target"), "--profiles-dir", str(PROJECT_DIR / "profiles")]
    environment = {**os.environ, "GATEHOUSE_DB": str(tmp_path / "w.duckdb"), "DO_NOT_TRACK": "1",
                   "DBT_LOG_PATH": str(tmp_path / "logs")}
    completed = subprocess.run(command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True)
    assert completed.returncode == 1
    assert "E301_SITE_ORDER" in completed.stdout and "gappy.parquet" in completed.stdout
