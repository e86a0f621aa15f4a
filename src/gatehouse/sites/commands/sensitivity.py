"""How much of a certificate's grade the 1A country prior carries.

`gatehouse sites certify` places the same outlets a second time under documented alternative priors
(each a complete 1A outlet policy shipped in policies/sites/) and grades each placement with the same
dbt scorecard, gates and plausibility checks, at one seed. Only the outlet policy changes: the 1B
policies, the seed and the catalogue seed are the certified run's. The result is descriptive: it
never changes the certified grade.

Each alternative starts from a copy of the certified warehouse, taken once its models are built, and
rebuilds only the models the catalogue feeds (the rerun matrix; tiles, weights and the place distances
are reused, and the grade is SQL, so the gates need not run). The alternatives build in the background
while the certified run's gates, exports and maps go on, all three at once, each in its own DuckDB file,
which is removed once its grades are read; its dbt logs stay in the run directory.
"""

from __future__ import annotations

import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb

from gatehouse.dbt_invoke import dbt_models
from gatehouse.runs import sha256_file
from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.outputs.records import json_records

ALTERNATIVE_PRIORS = {  # name -> 1A outlet policy file in the default policy directory
    "population_proportional": "outlets_1a_population_proportional.yaml",
    "gdp_proportional": "outlets_1a_gdp_proportional.yaml",
    "origin_like": "outlets_1a_origin_like.yaml",
}
SELECT, EXCLUDE = ["raw_1a__outlet_catalogue+", "s0_sealed_inputs+"], ["realism_certificate"]
GRADE_SQL = """
select
    grades.seed,
    case when grades.b_all_pass and grades.bplus_gates_pass then 'B+' when grades.b_all_pass then 'B'
        else 'NONE' end as seed_grade,
    grades.status, grades.failing_gates,
    grades.plausibility_pass, coalesce(plausibility.failing_checks, '') as failing_checks,
    scorecard.n_sites, scorecard.n_active_countries, scorecard.country_gini, scorecard.top1_share,
    scorecard.top10_share, scorecard.eligible_country_nonzero_share, scorecard.southern_hemisphere_share,
    scorecard.nn_p99_p50_ratio, scorecard.nn_tail_improvement,
    guard.freeze_guard_status, guard.freeze_guard_reasons
from realism_grades as grades
inner join realism_scorecard as scorecard using (seed)
left join (
    select seed, coalesce(string_agg(check_id, ', ' order by check_id) filter (where not passed), '') as failing_checks
    from realism_plausibility group by seed
) as plausibility using (seed)
inner join (
    select seed, any_value(guard_status) as freeze_guard_status, any_value(guard_reasons) as freeze_guard_reasons
    from realism_1a_freeze_guard group by seed
) as guard using (seed)
"""


def start_scoring(work_dir: Path, warehouse: Path, inputs: sources.SitesInputs, seed: int) -> Future:
    """Copy `warehouse` (closed, its models built) and score the priors on the copy in a background thread;
    the future's result is score_priors'."""
    work_dir.mkdir(parents=True)
    snapshot = work_dir / "certified_models.duckdb"
    shutil.copyfile(warehouse, snapshot)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gatehouse-sensitivity")
    try:
        return pool.submit(_score_and_remove, work_dir, snapshot, inputs, seed)
    finally:
        pool.shutdown(wait=False)  # the submitted work still runs to its end


def _score_and_remove(work_dir: Path, snapshot: Path, inputs: sources.SitesInputs, seed: int) -> list[dict]:
    try:
        return score_priors(work_dir, snapshot, inputs, seed)
    finally:
        snapshot.unlink(missing_ok=True)  # gone with the staging directory when the run was stopped


def score_priors(work_dir: Path, warehouse: Path, inputs: sources.SitesInputs, seed: int) -> list[dict]:
    """One row per alternative prior: its grade at `seed`, failing gates, plausibility and freeze guard.
    `warehouse` is the certified build's DuckDB file (copied, never changed)."""
    with ThreadPoolExecutor(max_workers=len(ALTERNATIVE_PRIORS)) as pool:  # each build is a dbt subprocess
        return list(pool.map(lambda item: _score_prior(work_dir / item[0], warehouse, *item, inputs, seed),
                             ALTERNATIVE_PRIORS.items()))


def _score_prior(work_dir: Path, warehouse: Path, name: str, file_name: str, inputs: sources.SitesInputs,
                 seed: int) -> dict:
    prior_file = policy.default_policy_dir() / file_name
    policy_dir = work_dir / "policies"
    shutil.copytree(inputs.policy_dir, policy_dir)
    shutil.copyfile(prior_file, policy.outlet_policy_path(policy_dir))
    alternative = sources.SitesInputs(seeds=(seed,), catalogue_seed=inputs.catalogue_seed, policy_dir=policy_dir)
    database = work_dir / "warehouse.duckdb"
    shutil.copyfile(warehouse, database)
    dbt_models(SELECT, {}, database, work_dir / "dbt", exclude=EXCLUDE,
               inputs={**alternative.dbt_inputs(), "realism_target_grade": "B"}, label=f"sensitivity {name}")
    con = duckdb.connect(str(database), read_only=True)
    try:
        graded = json_records(con.execute(GRADE_SQL).df())[0]
    finally:
        con.close()
    database.unlink()
    return {"prior": name, "policy_file": file_name, "policy_sha256": sha256_file(prior_file), **graded}
