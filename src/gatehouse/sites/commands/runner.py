"""`gatehouse sites run`: one Segment 1B build in its own run directory.

Order: check every input in Python first and hash the sealed inputs into the lineage tokens that name the
run (`precheck.py`); then build the gate-in models (catalogue, S0, 1A freeze guard: `gate_in.py`) and the
rest of the dbt chain into the run's own DuckDB file (`runs.execute`), and publish site_locations and the
validation bundle (`publish.py`). The build raises on any failed gate, so the bundle and its `_passed.flag`
exist only when every gate passed; on any failure nothing is published.
"""

from __future__ import annotations

from pathlib import Path

from gatehouse import progress
from gatehouse.runs.execute import RunSpec, execute
from gatehouse.sites.commands import gate_in, publish
from gatehouse.sites.commands.precheck import precheck
from gatehouse.sites.dbt_steps import sources

STAGE_TAG = "S1B"
PHASE_ID = "SITES_1B"
SELECT = ["tag:sites"]
EXCLUDE = ["tag:realism"]  # one seed is placed here; grading and certification are `sites score`/`certify`


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
        outputs=lambda run, con: publish.publish_placement(run, con, inputs, checked))).run_dir
