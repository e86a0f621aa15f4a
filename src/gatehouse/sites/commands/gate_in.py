"""The first dbt step of every 1B build: the gate-in models, the one place the 1A catalogue, the sealed
inputs with their lineage tokens, and the 1A freeze guard are computed.

`sites run` and `sites certify` build these models first, into the run's own warehouse, and read their
results: a catalogue that fails the freeze guard is refused before any placement is built, and the S0
receipt's lineage tokens must equal the ones the run was named with. The second dbt step then builds the
rest of the chain on top, without computing any of this again.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from gatehouse.dbt_invoke import dbt_run_then_test
from gatehouse.runs import RunError
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.inputs.freeze import frozen_authority_path

MODELS = ["+realism_1a_freeze_guard", "+s0_gate_receipt"]
FREEZE_GATE = "gate_1a_freeze_guard_pass"  # S-1A-1: a certification gate; `sites run` reads the verdict instead


def build(run, inputs: sources.SitesInputs, dbt_inputs: dict, checked: dict, certifying: bool) -> dict:
    """Build and test the gate-in models into run.staging/warehouse.duckdb; refuse (RunError) on a failed
    freeze guard, a failed gate or lineage tokens that moved. Returns dbt's summary of the step."""
    database = run.staging / "warehouse.duckdb"
    summary = dbt_run_then_test(MODELS, {}, database, run.staging / "dbt" / "gate_in",
                                exclude=None if certifying else [FREEZE_GATE], inputs=dbt_inputs)
    con = duckdb.connect(str(database), read_only=True)
    try:
        _refuse_failed_guard(con, inputs)
        receipt = con.execute("select parameter_hash, manifest_fingerprint from s0_gate_receipt").fetchone()
    finally:
        con.close()
    failed = [node["name"] for node in summary["nodes"] if node["status"] in ("error", "fail", "runtime error")]
    if failed:
        raise RunError(f"the gate-in models failed their gates: {failed}; nothing was placed")
    check_tokens(dict(zip(("parameter_hash", "manifest_fingerprint"), receipt)), checked)
    return summary


def _refuse_failed_guard(con, inputs: sources.SitesInputs) -> None:
    """The freeze guard's verdict per seed, read from realism_1a_freeze_guard: any non-PASS is refused."""
    failed = con.execute("select seed, any_value(guard_reasons) from realism_1a_freeze_guard "
                         "where guard_status <> 'PASS' group by seed order by seed").fetchall()
    if failed:
        source = inputs.catalogue_path or f"surrogate catalogue (base seed {inputs.catalogue_seed}, {inputs.policy_dir})"
        seed, reasons = failed[0]
        raise RunError(f"1A freeze guard FAIL for {source} (1B seed {seed}) against {frozen_authority_path()}: "
                       f"{reasons}; no 1B run is allowed on this catalogue")


def check_tokens(receipt: dict, checked: dict) -> None:
    """The S0 receipt's tokens against those the run was named with (hashed before the build, with the
    same function): they differ only when an input file changed while the build ran."""
    for key in ("parameter_hash", "manifest_fingerprint"):
        if receipt[key] != checked[key]:
            raise RunError(f"s0_gate_receipt {key} {receipt[key]} differs from the one computed before the build "
                           f"({checked[key]}): an input file changed while the build ran")


def run_results_paths(run) -> list[Path]:
    return [run.staging / "dbt" / "gate_in" / step / "run_results.json" for step in ("models", "test")]
