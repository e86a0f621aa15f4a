"""`gatehouse sites score` and `gatehouse sites certify`: grade site placements as run directories.

Both build every model first and run the gates afterwards (dbt_run_then_test), so a candidate that
fails gates still gets its full scorecard, with the failing gates listed in run_record.json, in
`grades.parquet` and in the audit schema of its warehouse. The command exits 0 only when the target
grade is reached (score: every seed's gates of that grade and its plausibility checks P-1..P-4; certify:
the certified grade, NONE unless every seed passes P-1..P-4).
"""

from __future__ import annotations

import json
from concurrent.futures import Future
from pathlib import Path

from gatehouse import progress
from gatehouse.runs import RunError, sha256_file
from gatehouse.runs.errors import missing_file
from gatehouse.runs.execute import WAREHOUSE, Export, RunSpec, execute
from gatehouse.sites.inputs.policy import outlet_policy_path
from gatehouse.sites.inputs.site_locations import validate_site_locations, validate_tiles
from gatehouse.sites.commands import gate_in, publish, sensitivity
from gatehouse.sites.commands.precheck import precheck, resolve_inputs
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.outputs.records import json_records

GRADES = ("B", "B+")
SCORE_SELECT, CERTIFY_SELECT = ["+tag:realism"], ["+tag:sites"]
EXPORTS = {  # table -> order; written as parquet into results/
    "realism_scorecard": "seed",
    "realism_gate_results": "seed, grade, gate_id",
    "realism_grades": "seed",
    "realism_country_shares": "seed, country_rank",
    "realism_region_shares": "seed, site_share desc, macro_region",
    "realism_nn_quantiles": "seed, scope = 'all' desc, scope",
    "realism_collapse_sentinel": "seed, n_sites desc, country_iso",
    "realism_bootstrap_ci": "seed, metric",
    "realism_plausibility": "seed, check_id",
    "realism_urban_balance": "seed, country_iso",
}


def _check_grade(target_grade: str) -> str:
    if target_grade not in GRADES:
        raise RunError(f"--target-grade {target_grade!r}: expected one of {list(GRADES)}")
    return target_grade


def _rows(con, sql: str) -> list[dict]:
    return json_records(con.execute(sql).df())


def _exports(tables: dict) -> list[Export]:
    return [Export.table(table, table, order) for table, order in tables.items()]


def score(runs_dir: Path, site_locations: str, seed: int = 0, tiles: str | None = None,
          target_grade: str = "B") -> tuple[Path, bool]:
    """Scorecard, gates and grade of any site_locations parquet; returns (run dir, target reached)."""
    path = Path(site_locations).resolve()
    if not 0 <= seed < 2**64:
        raise RunError(f"--seed must be in [0, 2^64), got {seed}")
    if not path.is_file():
        raise RunError(f"{path}: {missing_file(path)} (--site-locations)")
    validate_site_locations(path, set(sources.iso_codes_table()["country_iso"]), seed)
    tiles_path = Path(tiles).resolve() if tiles else None
    if tiles_path is not None:
        if not tiles_path.is_file():
            raise RunError(f"{tiles_path}: {missing_file(tiles_path)} (--tiles)")
        progress.say(f"eligible countries from {tiles_path.name} ({validate_tiles(tiles_path)} countries before the "
                     "populated and denylist filters), not from this engine's tile index: coverage and P-2 use them")
    config = {"project_id": "gatehouse", "phase_id": "SITES_1B_SCORE", "target_grade": _check_grade(target_grade),
              "site_locations": {"name": path.name, "sha256": sha256_file(path)}, "external_seed": seed,
              "tiles": {"name": tiles_path.name, "sha256": sha256_file(tiles_path)} if tiles_path else "s1_tile_index"}
    inputs = {"realism_site_locations_path": str(path), "realism_external_seed": seed,
              "realism_tiles_path": str(tiles_path or ""), "realism_target_grade": target_grade,
              "sites_seeds": [seed]}

    def grade(run, con) -> bool:
        grades = _rows(con, "select * from realism_grades order by seed")
        reached = all(row["b_all_pass"] and row["plausibility_pass"]
                      and (target_grade == "B" or row["bplus_gates_pass"]) for row in grades)
        run.record.update({"seeds": [seed], "target_grade": target_grade, "target_reached": reached,
                           "eligible_countries_from": config["tiles"], "grades": grades})
        return reached

    executed = execute(RunSpec(
        runs_dir, "SITES_1B_SCORE", "S1BSC", config, select=SCORE_SELECT, exclude=["tag:certification"],
        inputs=inputs, dbt_mode="run_then_test", exports=_exports(EXPORTS), outputs=grade, record_warehouse=False))
    return executed.run_dir, executed.outcome


def certify(runs_dir: Path, seeds: list[int], target_grade: str = "B", catalogue: str | None = None,
            policy_dir: str | None = None, catalogue_seed: int = 42, last_good: str | None = None) -> tuple[Path, bool]:
    """The whole chain for every certification seed in one warehouse (gate-in models first), graded and certified."""
    _check_grade(target_grade)
    if last_good and not Path(last_good).is_file():  # before anything is built
        raise RunError(f"{Path(last_good).resolve()}: {missing_file(last_good)} (--last-good)")
    if len(set(seeds)) != len(seeds):
        raise RunError(f"--seeds must be distinct, got {seeds}")
    single = resolve_inputs(seeds[0], catalogue, None, policy_dir, None, catalogue_seed)
    inputs = sources.SitesInputs(seeds=tuple(seeds), catalogue_seed=single.catalogue_seed,
                                 catalogue_path=single.catalogue_path, policy_dir=single.policy_dir)
    progress.say("checking the inputs")
    checked = precheck(inputs)
    last_good_path = Path(last_good).resolve() if last_good else None
    config = {"project_id": "gatehouse", "phase_id": "SITES_1B_CERTIFY", "seeds": list(seeds),
              "target_grade": target_grade, "parameter_hash": checked["parameter_hash"],
              "manifest_fingerprint": checked["manifest_fingerprint"],
              "last_good": sha256_file(last_good_path) if last_good_path else None}
    run_inputs = {**inputs.dbt_inputs(), "realism_target_grade": target_grade,
                  "realism_last_good_path": str(last_good_path or "")}
    scoring = []  # the prior sensitivity, started once the certified models are built

    def start_sensitivity(run) -> Future:
        progress.say("scoring the alternative 1A priors (sensitivity), beside the gates")
        scoring.append(sensitivity.start_scoring(run.staging / "sensitivity", run.staging / WAREHOUSE, inputs,
                                                 inputs.seeds[0]))
        return scoring[0]

    executed = execute(RunSpec(
        runs_dir, "SITES_1B_CERTIFY", "S1BCE", config, select=CERTIFY_SELECT, exclude=gate_in.MODELS,
        inputs=run_inputs, dbt_mode="run_then_test",
        first_step=lambda run: gate_in.build(run, inputs, run_inputs, checked, certifying=True),  # no certification on a non-PASS 1A
        after_models=start_sensitivity,
        checks=_refuse_failed_chain, exports=_exports({**EXPORTS, "realism_stability": "metric"}),
        outputs=lambda run, con: _certificate(run, con, inputs, checked, scoring[0]), record_warehouse=False))
    return executed.run_dir, executed.outcome


def _refuse_failed_chain(run, con) -> None:
    """A placement gate (not a grading one) that did not pass: nothing is certified."""
    chain_failures = [node["name"] for node in run.record["dbt"]["tests"]
                      if node["status"] != "pass" and not (node["gate"] or "").startswith(("S-R-", "S-CERT-", "P-"))]
    if chain_failures:
        raise RunError(f"the placement chain failed its gates: {chain_failures}; nothing is certified")


def _certificate(run, con, inputs: sources.SitesInputs, checked: dict, scoring: Future) -> bool:
    """GeoParquet and maps of every seed, the prior sensitivity and certificate.json; True when the target is reached."""
    publish.write_geoparquet_and_maps(con, run, "results", inputs.seeds, with_seed=True)
    progress.say("waiting for the prior sensitivity")
    alternatives = scoring.result()
    certificate = certificate_document(con, checked, inputs, alternatives)
    (run.results / "certificate.json").write_text(json.dumps(certificate, indent=2, sort_keys=True) + "\n")
    run.record.update({"seeds": list(inputs.seeds), "target_grade": certificate["target_grade"],
                       "certified_grade": certificate["certified_grade"],
                       "target_reached": certificate["reaches_target"],
                       "parameter_hash": checked["parameter_hash"],
                       "manifest_fingerprint": checked["manifest_fingerprint"]})
    run.artifact("certificate_json", "results/certificate.json")
    run.record["prior_sensitivity"] = [{key: row[key] for key in ("prior", "seed_grade", "plausibility_pass")}
                                       for row in alternatives]
    return certificate["reaches_target"]


def certificate_document(con, checked: dict, inputs: sources.SitesInputs, alternatives: list[dict]) -> dict:
    """certificate.json: deterministic (no timestamps, no paths) for the same inputs."""
    summary = _rows(con, "select * from realism_certificate")[0]
    rank = {"NONE": 0, "B": 1, "B+": 2}
    seeds = list(inputs.seeds)
    return {
        "segment": "1B",
        "seeds": sorted(seeds),
        "catalogue": _catalogue_provenance(inputs),
        "parameter_hash": checked["parameter_hash"],
        "manifest_fingerprint": checked["manifest_fingerprint"],
        "code_version": checked["commit"],
        "certified_grade": summary["certified_grade"],
        "target_grade": summary["target_grade"],
        "reaches_target": rank[summary["certified_grade"]] >= rank[summary["target_grade"]],
        "summary": summary,
        "scorecards": _rows(con, "select * from realism_scorecard order by seed"),
        "grades": _rows(con, "select * from realism_grades order by seed"),
        "stability": _rows(con, "select * from realism_stability order by metric"),
        "bootstrap_ci": _rows(con, "select * from realism_bootstrap_ci order by seed, metric"),
        "gates": _rows(con, "select * from realism_gates order by grade, gate_id"),
        "plausibility": _rows(con, "select * from realism_plausibility order by seed, check_id"),
        "urban_balance": _rows(con, "select * from realism_urban_balance order by seed, country_iso"),
        "bplus_frontier": _rows(con, FRONTIER_SQL),
        "prior_sensitivity": {"seed": seeds[0], "alternatives": alternatives},
    }


# Every B+ gate that fails on some seed: how far each seed is from it (the frontier a B certificate shows).
FRONTIER_SQL = """
select gate_id, metric, comparison, threshold, seed, metric_value, passed,
    case comparison when 'at_most' then metric_value - threshold else threshold - metric_value end as shortfall
from realism_gate_results
where grade = 'B+' and gate_id in (select gate_id from realism_gate_results where grade = 'B+' and not passed)
order by gate_id, seed
"""


def _catalogue_provenance(inputs: sources.SitesInputs) -> dict:
    """Where each seed's 1A catalogue came from (the derivation of its surrogate catalogue seed)."""
    if inputs.catalogue_path is not None:
        return {"source": "user", "sha256": sha256_file(inputs.catalogue_path), "same_for_every_seed": True}
    outlet_policy = outlet_policy_path(inputs.policy_dir)
    return {"source": "surrogate", "policy_file": outlet_policy.name, "policy_sha256": sha256_file(outlet_policy),
            "base_catalogue_seed": inputs.catalogue_seed,
            "derivation": "LE u64 of SHA256(UER('gatehouse.1A.catalogue_seed') || LE64(base) || LE64(seed))[0:8]",
            "catalogue_seeds": {str(seed): sources.catalogue_seed_for(inputs.catalogue_seed, seed)
                                for seed in inputs.seeds}}
