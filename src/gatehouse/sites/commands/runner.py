"""`gatehouse sites run`: one Segment 1B build in its own run directory.

Order: check every input in Python first (policies, polygon file, user catalogue, 1A bundle: fast,
named errors) and hash the sealed inputs into the lineage tokens that name the run; then build the
gate-in models (catalogue, S0, 1A freeze guard: `gate_in.py`) and the rest of the dbt chain into the
run's own DuckDB file (`runs.execute`), export `site_locations.parquet` in PK order and write the validation
bundle. The build raises on any failed gate, so the bundle and its `_passed.flag` exist only when every gate
passed; on any failure nothing is published.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from gatehouse import progress
from gatehouse.runs import RunError, code_version, copy_to_parquet, sha256_file
from gatehouse.runs.execute import RunSpec, execute
from gatehouse.sites.outputs import bundle, geoparquet, maps
from gatehouse.sites.outputs.records import json_records
from gatehouse.sites.commands import gate_in
from gatehouse.sites.inputs import geodata, policy
from gatehouse.sites.kernels import lineage
from gatehouse.sites.dbt_steps import pipeline, sources

STAGE_TAG = "S1B"
PHASE_ID = "SITES_1B"
SELECT = ["tag:sites"]
EXCLUDE = ["tag:realism"]  # one seed is placed here; grading and certification are `sites score`/`certify`
EGRESS_FILE = "site_locations.parquet"
GEOPARQUET_FILE = "site_locations.geoparquet"
PK = "merchant_id, legal_country_iso, site_order"


def resolve_inputs(seed: int, catalogue: str | None = None, gate_bundle: str | None = None,
                   policy_dir: str | None = None, countries_zip: str | None = None,
                   catalogue_seed: int = 42) -> sources.SitesInputs:
    def absolute(value):
        return Path(value).resolve() if value else None

    for name, value in (("--seed", seed), ("--catalogue-seed", catalogue_seed)):
        if not 0 <= int(value) < 2**64:
            raise RunError(f"{name} must be in [0, 2^64), got {value}")
    if gate_bundle and not catalogue:
        raise RunError("--gate-bundle verifies the 1A run a user catalogue came from; give --outlet-catalogue too")
    return sources.SitesInputs(seeds=(int(seed),), catalogue_seed=int(catalogue_seed), catalogue_path=absolute(catalogue),
                               gate_bundle_path=absolute(gate_bundle),
                               policy_dir=absolute(policy_dir) or policy.default_policy_dir(),
                               countries_zip_path=absolute(countries_zip))


def precheck(inputs: sources.SitesInputs) -> dict:
    """Refuse bad input before dbt starts; returns the sealed inputs and the lineage tokens that name the run
    (the same function S0 calls; the S0 receipt is checked against them after the gate-in step)."""
    policies = policy.load_all(inputs.policy_dir)
    if inputs.countries_zip_path is not None:
        geodata.load_countries(inputs.countries_zip_path)  # GeodataError names a corrupt polygon file
    upstream_mf = _check_catalogue(inputs, policies) if inputs.catalogue_path is not None else None
    if inputs.gate_bundle_path is not None:
        _check_gate(inputs, upstream_mf)
    sealed = sources.sealed_inputs(inputs, [p.row() for p in policies.values()])
    commit = code_version()
    parameter_hash, fingerprint = pipeline.lineage_tokens(sealed, commit)
    return {"sealed": sealed, "commit": commit, "parameter_hash": parameter_hash, "manifest_fingerprint": fingerprint}


def _check_catalogue(inputs: sources.SitesInputs, policies: dict) -> str | None:
    """E300-E303 for a user catalogue; returns the 1A manifest_fingerprint it names, if any."""
    iso_codes = set(sources.iso_codes_table()["country_iso"])
    source = str(inputs.catalogue_path)
    catalogue = sources.validate_catalogue(sources.read_catalogue(inputs.catalogue_path), iso_codes, source)
    with_sites = set(catalogue["legal_country_iso"]) - set(policies["requirements"].values["denylist"])
    polygons = set(geodata.load_countries(inputs.countries_zip_path)["country_iso"])
    untiled = sources.untiled_countries(with_sites, policies["tiles"].values["countries"], polygons)
    if untiled:
        raise sources.CatalogueInputError(
            f"E303_COUNTRY_WITHOUT_TILES: {source}: column legal_country_iso has sites in {untiled[:10]}, which "
            "have no tile (no Natural Earth polygon, or left out by the tiles policy's countries)")
    return catalogue["upstream_manifest_fingerprint"].iloc[0] if len(catalogue) else None


def _check_gate(inputs: sources.SitesInputs, upstream_mf: str | None) -> None:
    verified = bundle.verify_bundle(inputs.gate_bundle_path)
    if verified.manifest_fingerprint and upstream_mf and verified.manifest_fingerprint != upstream_mf:
        raise bundle.GateInError(
            f"E007_FINGERPRINT_MISMATCH: {inputs.catalogue_path} names 1A run {upstream_mf} but the bundle "
            f"{inputs.gate_bundle_path} belongs to {verified.manifest_fingerprint}")


def run_sites(runs_dir: Path, inputs: sources.SitesInputs) -> Path:
    progress.say("checking the inputs")
    checked = precheck(inputs)
    sealed = checked["sealed"]
    config = {
        "project_id": "gatehouse", "phase_id": PHASE_ID, "seed": inputs.seed,
        "catalogue": "user" if inputs.catalogue_path else {"surrogate_seed": inputs.catalogue_seed},
        "inputs": {row.asset_id: row.sha256_hex for row in sealed.itertuples(index=False)},
        "parameter_hash": checked["parameter_hash"], "manifest_fingerprint": checked["manifest_fingerprint"],
    }
    dbt_inputs = inputs.dbt_inputs()
    return execute(RunSpec(
        runs_dir, PHASE_ID, STAGE_TAG, config, select=SELECT, exclude=EXCLUDE + gate_in.MODELS, inputs=dbt_inputs,
        first_step=lambda run: gate_in.build(run, inputs, dbt_inputs, checked, certifying=False),
        outputs=lambda run, con: _publish_placement(run, con, inputs, checked))).run_dir


def _publish_placement(run, con, inputs: sources.SitesInputs, checked: dict) -> None:
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
