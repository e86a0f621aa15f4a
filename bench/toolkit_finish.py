"""What `gain-grid` adds after dbt for the toolkit, run as its own child by bench.toolkit_bench: figures
F02 + F03 (PNG + PDF) and the avalanches.parquet export.

The clock starts once Python, duckdb and pandas are loaded, since the command has them loaded for its
other exports before it draws; importing the figure code and matplotlib counts. Prints one JSON line:
{"seconds": wall, "cpu_s": CPU of this process (all threads)}.

    .venv/bin/python -m bench.toolkit_finish DATABASE OUT
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb
import pandas  # noqa: F401  loaded before the clock starts, as in the command

PROVENANCE = {"run_id": "RUN_S02_bench", "code_version": "bench", "config_hash": "", "model_role": ""}


def finish(database: Path, out: Path) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    from gatehouse.criticality import figures, phase2_outputs

    con = duckdb.connect(str(database), read_only=True)
    con.execute("set enable_progress_bar = false")
    metrics = con.execute("select * from gain_grid_metrics order by model_role, spike_def_id, target_rate, gain").df()
    for kind in ("F02", "F03"):
        figures.draw(kind, out / "figures", PROVENANCE, metrics)
    con.execute(f"copy ({phase2_outputs.AVALANCHES_EXPORT.sql}) to '{out / 'avalanches.parquet'}' (format parquet)")
    con.close()
    return {"seconds": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


if __name__ == "__main__":
    print(json.dumps(finish(Path(sys.argv[1]), Path(sys.argv[2]))))
