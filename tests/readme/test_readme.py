"""The README's doc test: every shell command and every SQL query in README.md runs, in README order,
from the project directory, so the README cannot drift from the code.

Commands are found in ```bash blocks and in inline code that starts like a command (`dbt `,
`gatehouse `, `.venv/bin/`, `make `); SQL in ```sql blocks and in inline code that starts with
`select `. The generated certificate section is provenance, not instructions, and is left out. Each
command has an entry in STEPS saying how it runs: placeholders (`outlets.parquet`, `RUN_ID`,
`[optional ...]`) become real files and run ids made by earlier steps, runs go to a scratch runs
directory, the warehouse is a scratch file (GATEHOUSE_DB) and generated files go to scratch folders,
so the developer's data/, runs/ and docs/ are untouched. A command found in the README without an
entry, or an entry no longer in the README, fails the test. Four commands are not run, each with its
reason (in STEPS). Rerun-matrix rows start from the warehouse `make build` left, as the README says.

Run by `make test` (its last step), after pytest; it takes several minutes (two full builds and the
real-transformer chain).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

PROJECT = Path(__file__).resolve().parents[2]
README = PROJECT / "README.md"
GENERATED = re.compile(r"<!-- sites-certificate:begin -->.*?<!-- sites-certificate:end -->", re.S)
COMMAND_START = ("dbt ", "gatehouse ", ".venv/bin/", "make ")


@dataclass(frozen=True)
class Step:
    run: str | None = None          # shell line with {placeholders}; None = not run (see `skip`)
    skip: str | None = None         # why it is not run
    exit_code: int = 0
    expect: str | None = None       # text the output must contain
    capture: str | None = None      # store stdout's last line under this name (a run directory)
    fresh: bool = False             # start from the warehouse as `make build` left it (rerun-matrix rows
                                    # are alternatives, each applied to a fresh build, not one after another)


G = ".venv/bin/gatehouse"
STEPS = {
    "make build": Step("make build"),
    "make test": Step(skip="this doc test is the last step of `make test` itself"),
    "make bench": Step(skip="tens of minutes of timing; its commands are in BENCHMARKS.md and not tests"),
    "make test-spark": Step(skip="its own CI step after `make test` (.ci/run); minutes of Spark builds"),
    ".venv/bin/python -m gatehouse.spark.dbt build --target spark --select criticality":
        Step(skip="needs the spark extra, which `make test` does not install; `make test-spark` runs these builds"),
    ".venv/bin/python -c \"import duckdb; print(duckdb.connect('data/gatehouse.duckdb', read_only=True)"
    ".sql('select * from gstar'))\"":
        Step(".venv/bin/python -c \"import duckdb; print(duckdb.connect('{db}', read_only=True)"
             ".sql('select * from gstar'))\"", expect="model_role"),
    ".venv/bin/gatehouse phase2 gain-grid": Step(f"{G} phase2 gain-grid --runs-dir {{runs}}"),
    ".venv/bin/gatehouse phase2 select-gstar": Step(f"{G} phase2 select-gstar --runs-dir {{runs}}"),
    ".venv/bin/gatehouse phase2 gain-grid --model-role BASE":
        Step(f"{G} phase2 gain-grid --model-role BASE --runs-dir {{runs}}"),
    ".venv/bin/gatehouse phase2 select-gstar --model-role BASE":
        Step(f"{G} phase2 select-gstar --model-role BASE --runs-dir {{runs}}"),
    ".venv/bin/gatehouse phase1 calibrate": Step(f"{G} phase1 calibrate --runs-dir {{runs}}", capture="phase1_run"),
    ".venv/bin/gatehouse phase2 capture --dep RUN_S01_<hash>":
        Step(f"{G} phase2 capture --dep {{phase1_id}} --runs-dir {{runs}}", capture="capture_run"),
    ".venv/bin/gatehouse phase2 gain-grid --dep RUN_S02C_<hash>":
        Step(f"{G} phase2 gain-grid --dep {{capture_id}} --runs-dir {{runs}}", capture="grid_run"),
    ".venv/bin/gatehouse phase2 select-gstar --dep RUN_S02_<hash>":
        Step(f"{G} phase2 select-gstar --dep {{grid_id}} --runs-dir {{runs}}"),
    ".venv/bin/pip install -c constraints.txt -e '.[test,models]'":
        Step(".venv/bin/pip install --quiet -c constraints.txt -e '.[test,models]'"),
    "gatehouse phase1 calibrate --model-role INSTRUCT --device cuda --dtype bfloat16 --batch-size 4":
        Step(skip="needs a CUDA GPU; this machine and CI have none"),
    "dbt build --select +gstar --vars '{gstar_metrics_path: bad.parquet}'":
        Step("dbt build --select +gstar --vars '{{gstar_metrics_path: {bad_metrics}}}'", exit_code=1,
             expect="No magic bytes found at end of file"),  # DuckDB names the file
    "dbt build --select tag:criticality --vars '{spike_preset: flat}'":
        Step("dbt build --select tag:criticality --vars '{{spike_preset: flat}}'"),
    ".venv/bin/gatehouse sites run --seed 42": Step(f"{G} sites run --seed 42 --runs-dir {{runs}}", capture="site_run"),
    ".venv/bin/gatehouse sites run --seed 42 --outlet-catalogue outlets.parquet [--gate-bundle DIR]":
        Step(f"{G} sites run --seed 42 --outlet-catalogue {{catalogue}} --runs-dir {{runs}}"),
    ".venv/bin/gatehouse sites score --site-locations site_locations.parquet [--seed N] [--tiles tiles.parquet]":
        Step(f"{G} sites score --site-locations {{site_run}}/site_locations.parquet --seed 42 --runs-dir {{runs}}"),
    ".venv/bin/gatehouse sites certify": Step(f"{G} sites certify --runs-dir {{runs}}", capture="certify_run"),
    ".venv/bin/gatehouse sites readme --certificate runs/RUN_S1BCE_<hash>/results/certificate.json":
        Step(f"{G} sites readme --certificate {{certify_run}}/results/certificate.json --readme {{readme_copy}}"),
    "dbt build": Step(skip="the same build as `make build`, the first step (it is what `make build` runs)"),
    "dbt build --selector certification": Step("dbt build --selector certification", fresh=True),
    ".venv/bin/python -m gatehouse.criticality.docs_figures":
        Step(".venv/bin/python -m gatehouse.criticality.docs_figures --out {root}/figures", expect="F05_gstar_selection.png"),
    ".venv/bin/python -m gatehouse.sites.kernels.realism": Step(".venv/bin/python -m gatehouse.sites.kernels.realism"),
    "dbt build --select tag:sites --exclude tag:certification --vars '{sites_seeds: [7]}'":
        Step("dbt build --select tag:sites --exclude tag:certification --vars '{{sites_seeds: [7]}}'", fresh=True),
    "dbt build --select raw_1a__outlet_catalogue+ --exclude tag:certification --vars '{sites_seeds: [7]}'":
        Step("dbt build --select raw_1a__outlet_catalogue+ --exclude tag:certification "
             "--vars '{{sites_seeds: [7]}}'", fresh=True),
    "dbt build --select raw_policy__jitter+": Step("dbt build --select raw_policy__jitter+", fresh=True),
    "dbt build --select raw_policy__tile_weights+": Step("dbt build --select raw_policy__tile_weights+", fresh=True),
    "gatehouse sites baseline pin RUN_ID": Step(f"{G} sites baseline pin {{certify_id}} --runs-dir {{runs}}"),
    "gatehouse sites baseline promote RUN_ID":
        Step(f"{G} sites baseline promote {{certify_id}} --runs-dir {{runs}}"),
    "gatehouse sites baseline pointers": Step(f"{G} sites baseline pointers --runs-dir {{runs}}",
                                              expect='"check": "ok"'),
    "gatehouse runs prune [--apply]": Step(f"{G} runs prune --apply --runs-dir {{runs}}"),
}


def readme_items() -> list[tuple[str, str]]:
    """('sh' | 'sql', text) for every command and query, in README order (repeats once)."""
    text = GENERATED.sub("", README.read_text(encoding="utf-8"))
    items = []
    for match in re.finditer(r"```(\w*)\n(.*?)```|`([^`]+)`", text, flags=re.S):
        if match[1] == "bash":
            items += [("sh", line.split("  #")[0].strip()) for line in match[2].splitlines() if line.strip()]
        elif match[1] == "sql":
            statements = [re.sub(r"--[^\n]*", "", part).strip() for part in match[2].split(";")]
            items += [("sql", statement) for statement in statements if statement]
        elif match[3] and match[3].startswith(COMMAND_START) and match[3] != "dbt test":
            items.append(("sh", " ".join(match[3].split())))
        elif match[3] and match[3].startswith("select "):
            items.append(("sql", " ".join(match[3].split())))
    return list(dict.fromkeys(items))


def test_every_readme_command_has_a_step_and_every_step_a_readme_command():
    commands = [text for kind, text in readme_items() if kind == "sh"]
    assert sorted(set(commands) - set(STEPS)) == [], "README commands with no STEPS entry"
    assert sorted(set(STEPS) - set(commands)) == [], "STEPS entries no longer in the README"
    assert sum(kind == "sql" for kind, _ in readme_items()) >= 5


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Scratch warehouse, runs dir and README copy; the values later steps fill in."""
    root = tmp_path_factory.mktemp("readme")
    bad_metrics = root / "bad.parquet"
    bad_metrics.write_text("spike_def_id,target_rate,gain,b_tot\n")  # a CSV under a parquet name
    shutil.copyfile(README, root / "README.md")
    return {"project_state": project_state(), "db": str(root / "readme.duckdb"), "runs": str(root / "runs"), "bad_metrics": str(bad_metrics),
            "readme_copy": str(root / "README.md"), "root": root}


def project_state() -> tuple:
    runs = sorted(path.name for path in (PROJECT / "runs").iterdir()) if (PROJECT / "runs").is_dir() else []
    database = PROJECT / "data" / "gatehouse.duckdb"
    return README.read_bytes(), runs, database.stat().st_mtime_ns if database.exists() else None


def environment(values: dict) -> dict:
    venv_bin = str(PROJECT / ".venv" / "bin")
    return {**os.environ, "PATH": f"{venv_bin}:{os.environ['PATH']}", "DBT_PROFILES_DIR": "profiles",
            "GATEHOUSE_DB": values["db"], "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def prepare(text: str, values: dict) -> None:
    """Files a step needs: `outlets.parquet`, a user 1A catalogue (the surrogate of 1B seed 42 with its
    per-merchant `phi`, so it passes the 1A freeze guard as a real 1A hand-off would)."""
    if "{catalogue}" in text and "catalogue" not in values:
        from gatehouse.sites.inputs import geodata
        from gatehouse.sites.commands.precheck import resolve_inputs
        from gatehouse.sites.dbt_steps import sources

        simulation = sources.surrogate_simulation(resolve_inputs(42), geodata.load_countries(),
                                                  geodata.load_places(0), 42)
        catalogue = simulation.catalogue.merge(simulation.merchants[["merchant_id", "phi"]], on="merchant_id")
        values["catalogue"] = str(values["root"] / "outlets.parquet")
        catalogue.to_parquet(values["catalogue"], index=False)


@pytest.mark.parametrize("kind, text", readme_items(), ids=lambda value: value[:70])
def test_readme_item(kind, text, workspace):
    if kind == "sql":
        con = duckdb.connect(workspace["db"], read_only=True)
        try:
            assert con.execute(text).fetchall() is not None
        finally:
            con.close()
        return
    step = STEPS[text]
    if step.skip:
        pytest.skip(step.skip)
    prepare(step.run, workspace)
    if step.fresh:
        shutil.copyfile(workspace["built_db"], workspace["db"])
    command = step.run.format(**workspace)
    completed = subprocess.run(command, shell=True, cwd=PROJECT, env=environment(workspace),
                               capture_output=True, text=True, timeout=1800)
    output = completed.stdout + completed.stderr
    assert completed.returncode == step.exit_code, f"{command}\n{output[-3000:]}"
    assert "Traceback" not in completed.stderr, output[-3000:]
    if step.expect:
        assert step.expect in output, output[-3000:]
    if text == "make build":
        workspace["built_db"] = str(workspace["root"] / "built.duckdb")
        shutil.copyfile(workspace["db"], workspace["built_db"])
    if step.capture:
        folder = Path(completed.stdout.strip().splitlines()[-1]).resolve()
        workspace[step.capture] = str(folder)
        workspace[step.capture.replace("_run", "_id")] = folder.name


def test_commands_left_the_project_alone(workspace):
    """The steps published nothing into the project's own runs/ and did not rewrite README.md or data/."""
    assert project_state() == workspace["project_state"]
