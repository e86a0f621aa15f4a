"""dbt builds of the project on the DuckDB `ci` target and on the `spark` target (python -m gatehouse.spark.dbt),
each in its own folder, and their tables read back for comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from gatehouse.project import PROJECT_ENV, project_dir

SPARK_SCHEMA = "gatehouse"


@dataclass(frozen=True)
class Build:
    engine: str          # duckdb | spark
    folder: Path
    returncode: int
    output: str
    artifacts: str = "target"  # the folder (in `folder`) of this invocation's run_results.json and manifest

    @property
    def database(self) -> Path:
        return self.folder / "build.duckdb"

    @property
    def warehouse(self) -> Path:
        return self.folder / "warehouse"

    def results(self) -> list[dict]:
        path = self.folder / self.artifacts / "run_results.json"
        return json.loads(path.read_text())["results"] if path.is_file() else []

    def failed(self) -> list[dict]:
        return [result for result in self.results() if result["status"] in ("error", "fail")]

    def tables(self) -> dict:
        """Table name -> pandas frame of every table the build wrote (views are not stored)."""
        if self.engine == "duckdb":
            with duckdb.connect(str(self.database), read_only=True) as con:
                names = [row[0] for row in con.execute(
                    "select table_name from information_schema.tables "
                    "where table_schema = 'main' and table_type = 'BASE TABLE' order by 1").fetchall()]
                return {name: con.execute(f'select * from main."{name}"').df() for name in names}
        schema = self.warehouse / f"{SPARK_SCHEMA}.db"
        return {path.name: pq.read_table(path).to_pandas() for path in sorted(schema.iterdir()) if path.is_dir()}


def dbt_build(engine: str, folder: Path, variables: dict, select: list[str], exclude: list[str] = (),
              duckdb_target: str = "ci", environment: dict | None = None, subcommand: str = "build",
              artifacts: str = "target") -> Build:
    """`dbt build` (or `subcommand`) of `select` (minus `exclude`) with `variables` on `engine` (DuckDB:
    `duckdb_target` of profiles.yml), `environment` added to this process's, its artifacts in
    `folder`/`artifacts`; dbt's output is kept for failure messages."""
    project = project_dir()
    folder.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, PROJECT_ENV: str(project), "DBT_PROFILES_DIR": str(project / "profiles"),
                   "DO_NOT_TRACK": "1", "DBT_USE_COLORS": "false", "GATEHOUSE_DB": str(folder / "build.duckdb"),
                   "SPARK_LOCAL_IP": "127.0.0.1", "GATEHOUSE_SPARK_WAREHOUSE": str(folder / "warehouse"),
                   "GATEHOUSE_SPARK_SCHEMA": SPARK_SCHEMA, **(environment or {})}
    if engine == "spark":
        command, target = [sys.executable, "-m", "gatehouse.spark.dbt"], "spark"
    else:
        command, target = [str(Path(sys.executable).with_name("dbt"))], duckdb_target
    command += [subcommand, "--project-dir", str(project), "--target", target, "--target-path", str(folder / artifacts),
                "--log-path", str(folder / "logs"), "--vars", json.dumps(variables), "--select", *select]
    if exclude:
        command += ["--exclude", *exclude]
    # the Derby metastore of the local session lands in the working directory
    done = subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True)
    return Build(engine, folder, done.returncode, done.stdout + done.stderr, artifacts)
