"""Spark scaling benchmark (issue 13): the same dbt builds on DuckDB and on the local Spark session with
local[1] and local[2], on the same data: wall time, speed-up, peak memory, Spark's own task metrics, and
what a 1e10-event grid would need on a cluster, derived from those measurements.

    .venv/bin/python -m bench.spark_bench --events 1e7 1e8 --sites 1e6 --markdown BENCHMARKS.md

Phase 2: `dbt build -s criticality` (every gate) on the events of bench.criticality_bench (crossing preset,
one model role, reused when already generated). Segment 1B: what `gatehouse sites run` builds (tag:sites
minus tag:realism) for one seed, on the 1A surrogate scaled as in bench.sites_bench. The builds go through
tests/spark/builds.py, the harness of `make test-spark`; DuckDB uses the `dev` target (16 GB limit), Spark
the `spark` target with GATEHOUSE_SPARK_MASTER set and 8g of driver memory. Spark's task metrics (shuffle
bytes written, peak execution memory per task, tasks) come from its event log, switched on through
SPARK_CONF_DIR.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from bench.criticality_bench import _process_tree_rss, generate_files, machine_facts
from bench.sections import write_section
from bench.sites_bench import scaled_policy_dir
from tests.spark.builds import dbt_build

SECTION_START, SECTION_END = "<!-- spark-bench:start -->", "<!-- spark-bench:end -->"
ENGINES = (("duckdb", None), ("spark", "local[1]"), ("spark", "local[2]"))
TARGET_EVENTS = 1e10
CLUSTER_CORES = 200       # the cluster the estimate is written for
SHUFFLE_PER_TASK = 128 * 2**20  # bytes of shuffle per task the estimate aims for (Spark's usual advice)


def phase2_workload(size: int, workdir: Path) -> dict:
    info = generate_files(size, workdir, "crossing", 1337, "INSTRUCT")
    return {"label": f"Phase 2, {info['events']:.2e} events", "kind": "phase2", "events": info["events"],
            "input_bytes": info["events_bytes"], "select": ["criticality"], "exclude": [],
            "variables": {"spike_source": "events", "spike_events_path": info["events_path"],
                          "spike_summaries_path": info["summaries_path"], "model_roles": ["INSTRUCT"]}}


def sites_workload(sites: float, workdir: Path) -> dict:
    policy_dir = scaled_policy_dir(workdir / f"sites-{sites:.0e}", sites)
    return {"label": f"sites run, ~{sites:.0e} sites (seed 42)", "kind": "sites", "sites": sites,
            "select": ["tag:sites"], "exclude": ["tag:realism"],
            "variables": {"sites_policy_dir": str(policy_dir), "sites_seeds": [42]}}


class PeakMemory:
    """Sampled peak summed RSS of this process's tree (the dbt process, Spark's JVM, its Python workers)."""

    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, _process_tree_rss(os.getpid()))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def spark_conf_dir(folder: Path) -> Path:
    """A SPARK_CONF_DIR whose spark-defaults.conf writes the event log into folder/eventlog."""
    (folder / "eventlog").mkdir(parents=True, exist_ok=True)
    (folder / "conf").mkdir(exist_ok=True)
    (folder / "conf" / "spark-defaults.conf").write_text(
        f"spark.eventLog.enabled true\nspark.eventLog.dir file://{folder / 'eventlog'}\n"
        "spark.eventLog.compress false\nspark.eventLog.rolling.enabled false\n")  # one plain JSON-lines file
    return folder / "conf"


def task_metrics(eventlog: Path) -> dict:
    """Tasks, shuffle bytes written, peak execution memory of one task, longest task, from Spark's event log."""
    tasks, shuffle, peak_memory, longest = 0, 0, 0, 0.0
    for path in (path for path in eventlog.rglob("*") if path.is_file() and not path.name.startswith((".", "app"))):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event.get("Event") != "SparkListenerTaskEnd" or "Task Metrics" not in event:
                continue
            metrics, info = event["Task Metrics"], event["Task Info"]
            tasks += 1
            shuffle += metrics.get("Shuffle Write Metrics", {}).get("Shuffle Bytes Written", 0)
            peak_memory = max(peak_memory, metrics.get("Peak Execution Memory", 0))
            longest = max(longest, (info["Finish Time"] - info["Launch Time"]) / 1000)
    return {"tasks": tasks, "shuffle_bytes": shuffle, "peak_task_memory_bytes": peak_memory,
            "longest_task_s": longest}


def run_build(workload: dict, engine: str, master: str | None, folder: Path) -> dict:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    environment = {}
    if master:
        environment = {"GATEHOUSE_SPARK_MASTER": master, "GATEHOUSE_SPARK_DRIVER_MEMORY": "8g",
                       "SPARK_CONF_DIR": str(spark_conf_dir(folder))}
    with PeakMemory() as memory:
        started = time.perf_counter()
        build = dbt_build(engine, folder / "build", workload["variables"], workload["select"], workload["exclude"],
                          duckdb_target="dev", environment=environment)
        seconds = time.perf_counter() - started
    result = {"engine": engine if not master else f"spark {master}", "seconds": round(seconds, 1),
              "returncode": build.returncode, "failed": [item["unique_id"] for item in build.failed()],
              "nodes": len(build.results()), "peak_rss_bytes": memory.peak,
              "loadavg_1m_end": round(os.getloadavg()[0], 2)}
    if master:
        result.update(task_metrics(folder / "eventlog"))
    (folder / "output.log").write_text(build.output)
    print(f"[{workload['label']}] {result['engine']}: {result['seconds']} s, exit {build.returncode}, "
          f"{len(result['failed'])} failed, peak {memory.peak / 2**30:.1f} GiB", flush=True)
    return result


def spark(workload: dict) -> dict:
    return workload["runs"]["spark local[2]"]


def cluster_estimate_of(results: list[dict]) -> dict | None:
    """A 1e10-event grid from the local[2] runs of Phase 2: per-event costs are the slope between the two
    largest sizes (the fixed cost of a build, minutes on Spark, cancels); with one size, that size's totals
    divided by its events (an upper bound: the fixed cost is counted as if it grew with the data)."""
    phase2 = sorted((workload for workload in results if workload["kind"] == "phase2"),
                    key=lambda workload: workload["events"])
    if not phase2:
        return None
    large = phase2[-1]
    small = phase2[-2] if len(phase2) > 1 else None

    def per_event(measure) -> float:
        if small is None:
            return measure(large) / large["events"]
        return (measure(large) - measure(small)) / (large["events"] - small["events"])

    shuffle = per_event(lambda workload: spark(workload)["shuffle_bytes"]) * TARGET_EVENTS
    core_seconds = per_event(lambda workload: spark(workload)["seconds"] * 2) * TARGET_EVENTS
    return {"events": TARGET_EVENTS, "sizes": [workload["events"] for workload in phase2[-2:]],
            "marginal": small is not None, "shuffle_bytes": shuffle,
            "input_bytes": per_event(lambda workload: workload["input_bytes"]) * TARGET_EVENTS,
            "partitions": max(1, math.ceil(shuffle / SHUFFLE_PER_TASK)),
            "peak_task_memory_bytes": max(run["peak_task_memory_bytes"] for workload in phase2
                                          for run in workload["runs"].values() if "tasks" in run),
            "speedup": large["runs"]["spark local[1]"]["seconds"] / spark(large)["seconds"],
            "core_hours": core_seconds / 3600, "cluster_cores": CLUSTER_CORES,
            "cluster_hours": core_seconds / 3600 / CLUSTER_CORES}


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f}"


def _row(label: str, name: str, run: dict, duckdb_seconds: float) -> str:
    spark = "tasks" in run
    cells = [label, name, run["seconds"], f"{run['seconds'] / duckdb_seconds:.1f}×", run["nodes"], len(run["failed"]),
             _gib(run["peak_rss_bytes"]), run["tasks"] if spark else "", _gib(run["shuffle_bytes"]) if spark else "",
             f"{run['peak_task_memory_bytes'] / 2**20:.0f}" if spark else "", run["loadavg_1m_end"]]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def markdown(results: list[dict], estimate: dict | None, facts: dict, command: str, pending: list[str]) -> str:
    lines = [SECTION_START, "### DuckDB and Spark on the same data (written by the bench)", "",
             f"Command: `{command}`. Machine: {facts['affinity']} cores, {_gib(facts['mem_total_bytes'])} GiB, "
             f"code {facts['code']}. "
             "Wall time of the whole `dbt build` (process start, parse, every node and gate); speed-up is "
             "local[1] over local[2]; peak memory is the summed RSS of the process tree (dbt, JVM, Python "
             "workers), sampled every 0.5 s.", "",
             "| workload | engine | wall s | vs DuckDB | nodes | failed | peak GiB | Spark tasks | shuffle GiB "
             "| peak task memory MiB | load at end |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for workload in results:
        runs = workload["runs"]
        lines += [_row(workload["label"], name, run, runs["duckdb"]["seconds"]) for name, run in runs.items()]
        speedup = runs["spark local[1]"]["seconds"] / runs["spark local[2]"]["seconds"]
        lines.append(f"| {workload['label']} | **speed-up local[1] → local[2]** | {speedup:.2f}× |" + " |" * 8)
    lines += [""]
    if pending:
        lines += ["Not measured (the run was stopped before them): " + "; ".join(pending) + ".", ""]
    if estimate:
        basis = (f"the slope between the local[2] runs at {estimate['sizes'][0]:.2e} and {estimate['sizes'][1]:.2e} "
                 "events (per-event cost; the fixed cost of a build cancels)" if estimate["marginal"] else
                 f"the local[2] run at {estimate['sizes'][0]:.2e} events divided by its events (an upper bound: "
                 "its fixed cost is counted as if it grew with the data)")
        lines += [f"**A {estimate['events']:.0e}-event grid on a cluster**, from {basis}. The event passes work "
                  "sequence by sequence, so work, input and shuffle grow with the number of events:", "",
                  f"- input: {_gib(estimate['input_bytes'])} GiB of zstd parquet;",
                  f"- shuffle: {_gib(estimate['shuffle_bytes'])} GiB written, so about {estimate['partitions']:,} "
                  f"shuffle partitions at {SHUFFLE_PER_TASK // 2**20} MiB each (spark.sql.shuffle.partitions; the "
                  "event passes are keyed by (gain, seq_id), which has far more keys than that);",
                  f"- memory per task: the largest peak execution memory of one task measured here, "
                  f"{estimate['peak_task_memory_bytes'] / 2**20:.0f} MiB, does not grow when partitions grow with "
                  "the data (a sequence is the unit of work); executors need that plus the Python worker's "
                  "Arrow batches;",
                  f"- compute: {estimate['core_hours']:,.1f} core-hours at this machine's per-core speed, about "
                  f"{estimate['cluster_hours'] * 60:.0f} min on {estimate['cluster_cores']} cores if the work spreads "
                  "evenly over them. That is an assumption this machine cannot test: from local[1] to local[2] the "
                  f"largest run here sped up {estimate['speedup']:.2f}×, and at these sizes much of a Spark build's "
                  "time is per-node overhead rather than data work (compare the rows above).", ""]
    lines += [SECTION_END]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", nargs="*", default=["1e7", "1e8"])
    parser.add_argument("--sites", nargs="*", default=["1e6"])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench/spark"))
    parser.add_argument("--events-workdir", type=Path, default=Path("/tmp/bench/criticality"),
                        help="where bench.criticality_bench keeps its generated events (reused)")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--from-results", type=Path, help="only re-render the section from a results.json")
    args = parser.parse_args(argv)
    if args.from_results:
        saved = json.loads(args.from_results.read_text())
        section = markdown(saved["results"], cluster_estimate_of(saved["results"]), saved["facts"], saved["command"],
                           saved.get("pending", []))
        print(section)
        if args.markdown:
            write_section(args.markdown, section, SECTION_START, SECTION_END, "## Apache Spark (issue 13)")
        return 0
    command = ".venv/bin/python -m bench.spark_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.events_workdir.mkdir(parents=True, exist_ok=True)
    workloads = ([sites_workload(float(size), args.workdir) for size in args.sites]
                 + [phase2_workload(int(float(size)), args.events_workdir) for size in args.events])
    facts, results = machine_facts(), []  # before the first write of BENCHMARKS.md makes the tree dirty
    for index, workload in enumerate(workloads):
        runs = {}
        for engine, master in ENGINES:
            run = run_build(workload, engine, master, args.workdir / f"w{index}-{engine}-{master or 'duckdb'}"
                            .replace("[", "").replace("]", ""))
            runs[run["engine"]] = run
        results.append({**workload, "runs": runs})
        pending = [item["label"] for item in workloads[index + 1:]]
        (args.workdir / "results.json").write_text(json.dumps(
            {"command": command, "facts": facts, "results": results, "pending": pending}, indent=2, default=str))
        # written after every workload, so a stopped run still leaves what it measured (and says what is missing)
        section = markdown(results, cluster_estimate_of(results), facts, command, pending)
        if args.markdown:
            write_section(args.markdown, section, SECTION_START, SECTION_END, "## Apache Spark (issue 13)")
    print(section)
    failed = any(run["returncode"] != 0 for workload in results for run in workload["runs"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
