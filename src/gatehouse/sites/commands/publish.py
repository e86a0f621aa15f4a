"""What a 1B build publishes once every gate passed: site_locations (parquet in PK order, GeoParquet, maps)
and the S9 validation bundle, with the run record's placement fields."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from gatehouse import progress
from gatehouse.runs import copy_to_parquet, sha256_file
from gatehouse.sites.commands import gate_in
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.kernels import lineage
from gatehouse.sites.outputs import bundle, geoparquet, maps
from gatehouse.sites.outputs.records import json_records

EGRESS_FILE = "site_locations.parquet"
GEOPARQUET_FILE = "site_locations.geoparquet"
PK = "merchant_id, legal_country_iso, site_order"


def publish_placement(run, con, inputs: sources.SitesInputs, checked: dict) -> None:
    """site_locations (parquet, GeoParquet, maps) and the S9 validation bundle of a run whose gates all passed."""
    receipt = json_records(con.execute("select * from s0_gate_receipt").df())[0]
    copy_to_parquet(con, f"select * exclude (seed) from site_locations order by {PK}", run.staging / EGRESS_FILE)
    tables = {name: con.execute(f"select * from {name} order by {order}").df()
              for name, order in (("s9_rng_accounting", "state"), ("s9_egress_checksums", "legal_country_iso"))}
    counts = con.execute("select count(*) as sites, count(distinct (merchant_id, legal_country_iso)) as pairs, "
                         "count(distinct legal_country_iso) as countries from site_locations").df().iloc[0]
    write_geoparquet_and_maps(con, run, "", inputs.seeds, with_seed=False)
    counts = {key: int(value) for key, value in counts.items()}
    bundle_dir = Path("validation") / f"manifest_fingerprint={checked['manifest_fingerprint']}"
    gates = [node for node in run.record["dbt"]["tests"] if node["unique_id"].startswith("test.")]
    flag = write_validation_bundle(run.staging / bundle_dir, run.run_id, inputs, checked, gates, tables, counts,
                                   run.staging / EGRESS_FILE)
    run.record.update({
        "seeds": [inputs.seed], "parameter_hash": checked["parameter_hash"],
        "manifest_fingerprint": checked["manifest_fingerprint"], "code_version": checked["commit"],
        "gate": {"status": receipt["gate_status"], "flag_sha256_hex": receipt["flag_sha256_hex"],
                 "upstream_manifest_fingerprint": receipt["upstream_manifest_fingerprint"]},
        "inputs": json_records(checked["sealed"]), "counts": counts, "dependencies": [],
        "validation": {"bundle": bundle_dir.as_posix(), "passed_flag_sha256_hex": flag},
        "state_seconds": state_seconds([*gate_in.run_results_paths(run), run.staging / "dbt" / "run_results.json"]),
    })
    run.artifact("site_locations_parquet", EGRESS_FILE)
    for path in sorted((run.staging / bundle_dir).iterdir()):
        run.artifact(f"validation/{path.name}", (bundle_dir / path.name).as_posix())


def write_geoparquet_and_maps(con, run, folder: str, seeds, with_seed: bool) -> None:
    """site_locations as GeoParquet (point geometry added) and the PNG maps of each seed, into
    run.staging/folder ('' = the run's top). `with_seed` keeps the seed column (several seeds)."""
    progress.say("writing GeoParquet and maps")
    columns = "*" if with_seed else "* exclude (seed)"
    sites = con.execute(f"select {columns} from site_locations order by seed, {PK}").df()
    prefix = f"{folder}/" if folder else ""
    geoparquet.write_geoparquet(sites, run.staging / f"{prefix}{GEOPARQUET_FILE}")
    run.artifact("site_locations_geoparquet", f"{prefix}{GEOPARQUET_FILE}")
    countries = sources.country_geometries(con.execute("select country_iso, geometry_wkb from stg_geo__countries").df())
    for seed in seeds:
        seed_sites = sites[sites["seed"] == seed] if with_seed else sites
        for path in maps.write_site_maps(seed_sites, countries, run.staging / f"{prefix}maps", seed):
            run.artifact(f"maps/{path.name}", f"{prefix}maps/{path.name}")


def state_seconds(run_results_files: list[Path]) -> dict:
    """Seconds of model and test execution per state (S0..S9, staging), from dbt's run_results.json files."""
    totals: dict[str, float] = {}
    for run_results in run_results_files:
        with open(run_results) as handle:
            results = json.load(handle)["results"]
        with open(run_results.with_name("manifest.json")) as handle:
            nodes = json.load(handle)["nodes"]
        for result in results:
            state = _state_of(result["unique_id"], nodes)
            totals[state] = totals.get(state, 0.0) + float(result.get("execution_time") or 0.0)
    return {state: round(seconds, 3) for state, seconds in sorted(totals.items())}


def _state_of(unique_id: str, nodes: dict) -> str:
    """S<n> from a model's or gate's name (s4_alloc_plan, gate_s4_...); generic tests follow their model."""
    node = nodes.get(unique_id, {})
    name = node.get("name", unique_id.split(".")[-1])
    match = re.match(r"(?:gate_)?s(\d)_", name)
    if match:
        return f"S{match.group(1)}"
    if name == "site_locations":
        return "S8"
    attached = node.get("attached_node")
    return _state_of(attached, nodes) if attached else "staging"


# ---------------------------------------------------------------------------------------------------
# Validation bundle


def write_validation_bundle(directory: Path, run_id: str, inputs: sources.SitesInputs, checked: dict,
                            tests: list[dict], tables: dict, counts: dict, egress: Path) -> str:
    """The S9 bundle; no timestamps or absolute paths, so equal inputs give a byte-equal bundle and flag.
    `tests`: the status of every gate of the build (run record form)."""
    sealed = checked["sealed"]
    members = [{"asset_id": row.asset_id, "name": row.name, "sha256_hex": row.sha256_hex,
                "token_hex": lineage.member_token(lineage.Member(row.name, row.sha256_hex)).hex()}
               for row in sealed.itertuples(index=False)]
    parameters = [m for m, role in zip(members, sealed["role"]) if role == "parameter"]
    artefacts = [m for m, role in zip(members, sealed["role"]) if role == "artefact"]
    egress_sha = sha256_file(egress)
    gates = [{key: node[key] for key in ("name", "gate", "status", "failures")} for node in tests]
    documents = {
        "MANIFEST.json": {"segment": "1B", "run_id": run_id, "seed": inputs.seed,
                          "parameter_hash": checked["parameter_hash"],
                          "manifest_fingerprint": checked["manifest_fingerprint"], "code_version": checked["commit"],
                          "egress": {"dataset": "site_locations", "file": EGRESS_FILE, "sha256_hex": egress_sha}},
        "parameter_hash_resolved.json": {
            "parameter_hash": checked["parameter_hash"],
            "rule": "SHA256(t_1..t_n), t_i = SHA256(UER(basename) || SHA256(bytes)), files sorted by ASCII basename",
            "members": sorted(parameters, key=lambda m: m["name"])},
        "manifest_fingerprint_resolved.json": {
            "manifest_fingerprint": checked["manifest_fingerprint"],
            "rule": "SHA256(T(a_1)..T(a_k) || commit_32 || parameter_hash), T(a) = SHA256(UER(name) || SHA256(bytes))",
            "members": sorted(artefacts, key=lambda m: m["name"]), "code_version": checked["commit"],
            "commit_32_hex": lineage.commit_bytes(checked["commit"]).hex(),
            "parameter_hash": checked["parameter_hash"]},
        "rng_accounting.json": {"states": json_records(tables["s9_rng_accounting"])},
        "egress_checksums.json": {"files": [{"path": EGRESS_FILE, "sha256_hex": egress_sha,
                                             "bytes": egress.stat().st_size}],
                                  "composite_sha256_hex": hashlib.sha256(bytes.fromhex(egress_sha)).hexdigest(),
                                  "content": json_records(tables["s9_egress_checksums"])},
        "s9_summary.json": {"passed": all(g["status"] == "pass" for g in gates), "counts": counts, "gates": gates},
    }
    files = {name: (json.dumps(document, indent=2, sort_keys=True, default=_plain) + "\n").encode()
             for name, document in documents.items()}
    return bundle.write_bundle(directory, files)


def _plain(value):
    return value.item() if hasattr(value, "item") else str(value)
