"""The default runs' outputs, byte for byte, against checked-in SHA-256 hashes (golden data).

A refactor must not change a single output byte. The default commands (`phase2 gain-grid`, `phase2
select-gstar`, `sites run --seed 42`, `sites certify`) run on a copy of the project without git metadata,
so the code version every run records is the constant `no_git_metadata` and the hashes do not move with
each commit; everything else (run ids, lineage tokens, parquet, JSON, bundles, maps) is the real output.

Left out, because they are not outputs but by-products that differ between identical runs: the run record
(timestamps, dbt invocation ids), the DuckDB warehouse file (its page layout), dbt's own folders (also those of
the certificate's sensitivity builds) and the logs.

When a change is meant to alter outputs, regenerate and commit the file, and say why in the commit:
    .venv/bin/python -m tests.python.test_default_output_hashes
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path


CHECKOUT = Path(__file__).resolve().parents[2]
GOLDEN = CHECKOUT / "tests" / "python" / "golden" / "default_output_hashes.json"
PROJECT_FILES = ("dbt_project.yml", "models", "macros", "python_models", "seeds", "tests", "profiles", "policies")
COMMANDS = {
    "phase2_gain_grid": ["phase2", "gain-grid"],
    "phase2_select_gstar": ["phase2", "select-gstar"],
    "sites_run_seed_42": ["sites", "run", "--seed", "42"],
    "sites_certify": ["sites", "certify"],
}
NOT_OUTPUTS = ("run_record.json", "warehouse.duckdb")
NOT_OUTPUT_FOLDERS = ("dbt", "logs")


def project_copy(destination: Path) -> Path:
    """The project's dbt files (no .git, no target/, no runs/), so runs record code version no_git_metadata."""
    destination.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = CHECKOUT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__", "golden"))
        else:
            shutil.copyfile(source, destination / name)
    return destination


def output_hashes(run_dir: Path) -> dict[str, str]:
    hashes = {}
    for path in sorted(run_dir.rglob("*")):
        relative = path.relative_to(run_dir)
        if path.is_file() and path.name not in NOT_OUTPUTS and not set(relative.parts) & set(NOT_OUTPUT_FOLDERS):
            hashes[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def default_run_hashes(work: Path) -> dict[str, dict[str, str]]:
    """Run every default command into work/runs (one runs dir, in order) and hash each run's outputs."""
    project = project_copy(work / "project")
    runs = work / "runs"
    environment = {**os.environ, "GATEHOUSE_PROJECT_DIR": str(project), "DO_NOT_TRACK": "1"}
    result = {}
    for name, arguments in COMMANDS.items():
        completed = subprocess.run([sys.executable, "-m", "gatehouse.cli", *arguments, "--quiet",
                                    "--runs-dir", str(runs)], capture_output=True, text=True, env=environment,
                                   cwd=project)
        assert completed.returncode == 0, f"{name}: {completed.stderr[-3000:]}"
        run_dir = Path(completed.stdout.strip().splitlines()[-1])
        result[name] = {"run_id": run_dir.name, "files": output_hashes(run_dir)}
    return result


def test_default_outputs_are_byte_identical_to_the_checked_in_hashes(tmp_path):
    expected = json.loads(GOLDEN.read_text())
    actual = default_run_hashes(tmp_path)
    for command in COMMANDS:
        assert actual[command]["run_id"] == expected[command]["run_id"], command
        changed = sorted(name for name in expected[command]["files"].keys() | actual[command]["files"].keys()
                         if expected[command]["files"].get(name) != actual[command]["files"].get(name))
        assert not changed, f"{command}: these outputs changed: {changed}"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(default_run_hashes(Path(scratch)), indent=2, sort_keys=True) + "\n")
    print(GOLDEN)
