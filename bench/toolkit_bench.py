"""Toolkit benchmark (issue 10): what bootstrap, nulls, avalanches, MR and figures add to the gain grid.

On the same synthetic event files (default `crossing` preset, one model role, L=28, T=256,
d_ff=4096, n_sequences grown to reach the size), each contender is its own child process:

* plain:   `dbt build --select +gain_grid_metrics +tau_rate_matched --exclude <TOOLKIT_EXCLUDE>`:
           the gain grid without the toolkit (events validated and histogrammed, tau, the rate-matched
           raster counted per (condition, sequence, layer) with the permutation null's pairs, the SQL
           raster table `int_raster_sites` that gate C-RS-1 checks the counts against, and their
           gates). The exclusion drops every toolkit model and what reads it: circular-shift null,
           bootstrap and slope bootstrap, avalanches and their signatures, MR; and, because they read
           those, the two small SQL models that pool the sums into metrics (`int_branching_counts`,
           `gain_grid_metrics`), so the ratio slightly overstates the toolkit's cost;
* full:    the same `dbt build` without the exclusion, then (a second child, bench.toolkit_finish) what
           the `gain-grid` command adds for the toolkit: figures F02 and F03 (PNG + PDF) and the
           avalanches.parquet export, timed by the child's own clock from after its interpreter start and
           duckdb/pandas imports (the command has paid those already; matplotlib and the figure code
           count); the child's whole wall time is kept in the results JSON as finish_process_s;
* command: at the largest size, the whole `gatehouse phase2 gain-grid --events --summaries` end to end
           (peak RSS against the 24 GiB target).

Each dbt build gets its own DuckDB file, target and log paths; wall time from the parent, peak RSS
from wait4 (largest process of the child's tree) and the sampled summed RSS of the tree
(`bench.criticality_bench.measure`). Generation is not timed.

    .venv/bin/python -m bench.toolkit_bench --events 1e7 --command-events 1e8 [--repeat 2] [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

from bench.criticality_bench import BIN, PROJECT_DIR, _gib, _memory_limit_setting, _warm, \
    generate_files, machine_facts, measure
from bench.sections import write_section
from gatehouse.criticality import synthetic

SECTION_START, SECTION_END = "<!-- toolkit-bench:begin -->", "<!-- toolkit-bench:end -->"
SELECT = ["+gain_grid_metrics", "+tau_rate_matched"]
TOOLKIT_EXCLUDE = ["int_shift_null_layer_counts+", "int_branching_bootstrap+", "int_b_tot_slope_bootstrap+",
                   "avalanches+", "int_mr_estimates+"]
TARGET_RATIO, TARGET_GIB = 2.0, 24.0


# ------------------------------------------------------------------------------------ contenders
def dbt_command(subcommand: str, build_dir: Path, exclude: list[str] = ()) -> tuple[list[str], dict]:
    """dbt run from `build_dir` with the relative database `dev.duckdb` there, so every build has the
    same profile and reuses one partial parse (as the CLI does between runs)."""
    command = ["env", f"--chdir={build_dir}", str(BIN / "dbt"), subcommand, "--project-dir", str(PROJECT_DIR),
               "--profiles-dir", str(PROJECT_DIR / "profiles"), "--target-path", str(build_dir / "target"),
               "--log-path", str(build_dir / "logs")]
    if subcommand == "build":
        command += ["--indirect-selection", "cautious", "--select", *SELECT] + (["--exclude", *exclude] if exclude else [])
    return command, {"GATEHOUSE_DB": "dev.duckdb"}


def parsed_project(info: dict, role: str, size_dir: Path) -> Path:
    """One `dbt parse` per size; each build starts from a copy of its partial parse."""
    parse_dir = size_dir / "parse"
    parse_dir.mkdir(parents=True)
    command, environment = dbt_command("parse", parse_dir)
    measured = measure(command, parse_dir / "dbt.log", {**environment, **inputs_environment(info, role)})
    if measured["returncode"] != 0:
        raise SystemExit(f"dbt parse failed, see {parse_dir / 'dbt.log'}")
    return parse_dir / "target" / "partial_parse.msgpack"


def inputs_environment(info: dict, role: str) -> dict:
    return {"DO_NOT_TRACK": "1", "GATEHOUSE_SPIKE_SOURCE": "events", "GATEHOUSE_MODEL_ROLES": role,
            "GATEHOUSE_SPIKE_EVENTS_PATH": info["events_path"], "GATEHOUSE_SPIKE_SUMMARIES_PATH": info["summaries_path"]}


def node_seconds(build_dir: Path) -> dict[str, float]:
    results = build_dir / "target" / "run_results.json"
    if not results.exists():
        return {}
    nodes = json.loads(results.read_text())["results"]
    return {node["unique_id"].split(".")[-1] if node["unique_id"].startswith("model.") else node["unique_id"]:
            round(node["execution_time"], 2) for node in nodes}


def run_build(info: dict, role: str, size_dir: Path, name: str, toolkit: bool, parse: Path) -> dict:
    build_dir = size_dir / name
    (build_dir / "target").mkdir(parents=True)
    shutil.copyfile(parse, build_dir / "target" / "partial_parse.msgpack")
    command, environment = dbt_command("build", build_dir, [] if toolkit else TOOLKIT_EXCLUDE)
    _warm(Path(info["events_path"]))
    measured = measure(command, build_dir / "dbt.log", {**environment, **inputs_environment(info, role)})
    measured["nodes"] = node_seconds(build_dir)
    if toolkit and measured["returncode"] == 0:
        log = build_dir / "finish.log"
        extra = measure([str(BIN / "python"), "-m", "bench.toolkit_finish", str(build_dir / "dev.duckdb"),
                         str(build_dir / "outputs")], log)
        measured["returncode"] = extra["returncode"]
        measured["finish_process_s"], measured["finish_rss_bytes"] = extra["seconds"], extra["max_rss_bytes"]
        measured["max_rss_bytes"] = max(measured["max_rss_bytes"], extra["max_rss_bytes"])
        if extra["returncode"] == 0:  # the child's own clock: without interpreter start and duckdb/pandas imports
            timed = json.loads([line for line in log.read_text().splitlines() if line.startswith("{")][-1])
            measured["finish_s"] = timed["seconds"]
            measured["seconds"] += timed["seconds"]
            measured["user_s"] += timed["cpu_s"]
    (build_dir / "dev.duckdb").unlink(missing_ok=True)
    return measured


def fastest(attempts: list[dict]) -> dict:
    ok = [attempt for attempt in attempts if attempt["returncode"] == 0]
    best = dict(min(ok, key=lambda attempt: attempt["seconds"]) if ok else attempts[-1])
    best["attempts_s"] = [round(attempt["seconds"], 1) for attempt in attempts]
    return best


def bench_ratio(info: dict, role: str, workdir: Path, repeat: int) -> dict:
    size_dir = workdir / f"ratio-{info['events']}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    plain, full, parse = [], [], parsed_project(info, role, size_dir)
    for attempt in range(repeat):  # alternate, so both see the same background load
        plain.append(run_build(info, role, size_dir, f"plain-{attempt}", toolkit=False, parse=parse))
        full.append(run_build(info, role, size_dir, f"full-{attempt}", toolkit=True, parse=parse))
    result = {"events": info["events"], "n_sequences": info["lattice"]["n_sequences"], "plain": fastest(plain),
              "full": fastest(full)}
    if result["plain"]["returncode"] == 0 and result["full"]["returncode"] == 0:
        result["ratio"] = result["full"]["seconds"] / result["plain"]["seconds"]
        result["ratio_cpu"] = ((result["full"]["user_s"] + result["full"]["system_s"])
                               / (result["plain"]["user_s"] + result["plain"]["system_s"]))
    return result


def bench_command(info: dict, role: str, workdir: Path) -> dict:
    size_dir = workdir / f"command-{info['events']}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
    size_dir.mkdir(parents=True)
    _warm(Path(info["events_path"]))
    measured = measure([str(BIN / "gatehouse"), "phase2", "gain-grid", "--runs-dir", str(size_dir / "runs"),
                        "--model-role", role, "--events", info["events_path"], "--summaries", info["summaries_path"]],
                       size_dir / "command.log")
    runs = sorted((size_dir / "runs").glob("RUN_*"))
    if runs:
        measured["nodes"] = {key: value for key, value in sorted(
            node_seconds_of_run(runs[0]).items(), key=lambda item: -item[1])[:8]}
        shutil.rmtree(runs[0], ignore_errors=True)
    return {"events": info["events"], "n_sequences": info["lattice"]["n_sequences"], "command": measured}


def node_seconds_of_run(run_dir: Path) -> dict[str, float]:
    results = run_dir / "dbt" / "run_results.json"
    if not results.exists():
        return {}
    return {node["unique_id"].split(".")[-1]: round(node["execution_time"], 2)
            for node in json.loads(results.read_text())["results"]}


# ------------------------------------------------------------------------------------- report
TOOLKIT_NODES = ("int_shift_null_layer_counts", "int_branching_bootstrap",
                 "int_b_tot_slope_bootstrap", "avalanches", "int_avalanche_aggregates", "int_avalanche_signatures",
                 "int_mr_estimates", "int_branching_counts", "gain_grid_metrics")


def _cpu(measured: dict) -> str:
    return f"{measured['user_s'] + measured['system_s']:.0f}"


def markdown(ratios: list[dict], commands: list[dict], facts: dict, command: str, memory_limit: str) -> str:
    lines = [SECTION_START, "### Toolkit cost: bootstrap, nulls, avalanches, MR, figures (written by the bench)", "",
             f"Command: `{command}`. Same synthetic `crossing` event files for both contenders (one model role, "
             "L=28, T=256, d_ff=4096, n_sequences grown with the size; 88 conditions). **plain** = `dbt build --select "
             f"+gain_grid_metrics +tau_rate_matched --exclude {' '.join(TOOLKIT_EXCLUDE)}` (the gain grid and its gates, "
             "including the SQL raster table `int_raster_sites` that gate C-RS-1 checks pass 2 against, without any "
             "toolkit model; also without the two small SQL models that pool the sums into metrics, "
             "since they read toolkit tables, so the ratio overstates the toolkit's cost slightly); **full** = the "
             "same build without the exclusion, plus F02/F03 and the avalanches.parquet export as `gain-grid` "
             "writes them (`bench.toolkit_finish`, timed by its own clock after interpreter start and the "
             "duckdb/pandas imports the command has already paid; matplotlib's import counts). Seconds are wall "
             "clock, in brackets CPU seconds (user + system) of the child's tree; "
             "peak RSS is the largest process of the tree (wait4). Both builds start from one cached dbt partial parse, "
             "as the CLI's runs do. The fastest of the alternating attempts counts "
             "(all listed). The machine's other load is not controlled, so timings are noisy.", "",
             "| events | sequences | plain s | full s | full / plain (wall) | full / plain (CPU) | target | attempts plain / full |",
             "|---:|---:|---:|---:|---:|---:|---|---|"]
    for result in ratios:
        plain, full = result["plain"], result["full"]
        if "ratio" not in result:
            lines.append(f"| {result['events']:,} | {result['n_sequences']:,} | exit {plain['returncode']} | "
                         f"exit {full['returncode']} | n/a | n/a | <= {TARGET_RATIO:g}x | |")
            continue
        verdict = "met" if result["ratio"] <= TARGET_RATIO else "missed"
        lines.append(f"| {result['events']:,} | {result['n_sequences']:,} | {plain['seconds']:.1f} ({_cpu(plain)}) | "
                     f"{full['seconds']:.1f} ({_cpu(full)}) | {result['ratio']:.2f}x | {result['ratio_cpu']:.2f}x | "
                     f"<= {TARGET_RATIO:g}x: {verdict} | {plain['attempts_s']} / {full['attempts_s']} |")
    for result in ratios:
        full = result["full"]
        toolkit = {name: full["nodes"][name] for name in TOOLKIT_NODES if name in full.get("nodes", {})}
        spent = ", ".join(f"{name} {seconds:.1f}" for name, seconds in sorted(toolkit.items(), key=lambda item: -item[1]))
        lines += ["", f"Toolkit steps of the counted full attempt at {result['events']:,} events (dbt execution s): "
                      f"{spent}; figures + avalanche export {full.get('finish_s', float('nan')):.1f} s wall "
                      f"(the child process in all, interpreter start included: "
                      f"{full.get('finish_process_s', float('nan')):.1f} s)."]
    for result in commands:
        measured = result["command"]
        ok = measured["returncode"] == 0
        verdict = ("met" if measured["max_rss_bytes"] / 2**30 <= TARGET_GIB else "missed") if ok else "failed"
        lines += ["", f"**Whole grid at {result['events']:,} events** ({result['n_sequences']:,} sequences), "
                      f"`gatehouse phase2 gain-grid --events --summaries` end to end with the toolkit: "
                      f"{measured['seconds']:.1f} s wall ({_cpu(measured)} CPU-s), peak RSS "
                      f"{_gib(measured['max_rss_bytes'])} GiB (tree {_gib(measured['tree_peak_rss_bytes'])} GiB), exit "
                      f"{measured['returncode']}; target <= {TARGET_GIB:g} GiB: {verdict}. Slowest dbt nodes: "
                      + ", ".join(f"{name} {seconds:.1f}" for name, seconds in measured.get("nodes", {}).items()) + "."]
    lines += ["", f"Machine: {facts['nproc']} CPUs ({facts['cpu']}), {_gib(facts['mem_total_bytes'])} GiB RAM; DuckDB "
                  f"{facts['duckdb']}, dbt-core {facts['dbt-core']}, numpy {facts['numpy']}, numba {facts['numba']}; "
                  f"memory_limit={memory_limit}, threads=2. Code: {facts.get('code', 'unknown')}.", "", SECTION_END]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", nargs="*", default=["1e7"], help="sizes for the plain/full ratio")
    parser.add_argument("--command-events", nargs="*", default=["1e8"], help="sizes for the whole gain-grid command")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench/criticality"),
                        help="data files (shared with bench.criticality_bench) and builds")
    parser.add_argument("--preset", default="crossing", choices=sorted(synthetic.PRESETS))
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--model-role", default="INSTRUCT")
    parser.add_argument("--repeat", type=int, default=2, help="alternating attempts per contender; the fastest counts")
    parser.add_argument("--markdown", type=Path, help="write/replace the toolkit section of this file")
    args = parser.parse_args(argv)
    command = ".venv/bin/python -m bench.toolkit_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    args.workdir.mkdir(parents=True, exist_ok=True)
    facts, ratios, commands, data = machine_facts(), [], [], {}

    def files(size: int) -> dict:
        if size not in data:
            data[size] = generate_files(size, args.workdir, args.preset, args.seed, args.model_role)
            print(f"[data] {data[size]['events']:,} events, N={data[size]['lattice']['n_sequences']}, "
                  f"generated in {data[size]['generation_s']} s", flush=True)
        return data[size]

    for size in (int(float(text)) for text in args.events):
        result = bench_ratio(files(size), args.model_role, args.workdir, args.repeat)
        ratios.append(result)
        print(f"[ratio] {size:,}: plain {result['plain']['attempts_s']} full {result['full']['attempts_s']} "
              f"-> {result.get('ratio', float('nan')):.2f}x", flush=True)
    for size in (int(float(text)) for text in args.command_events):
        result = bench_command(files(size), args.model_role, args.workdir)
        commands.append(result)
        measured = result["command"]
        print(f"[command] {size:,}: {measured['seconds']:.1f} s, exit {measured['returncode']}, "
              f"peak {_gib(measured['max_rss_bytes'])} GiB", flush=True)
    output = {"facts": facts, "command": command, "memory_limit": _memory_limit_setting(None), "ratios": ratios,
              "commands": commands}
    (args.workdir / f"results-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json").write_text(
        json.dumps(output, indent=2, default=str))
    section = markdown(ratios, commands, facts, command, output["memory_limit"])
    print(section)
    if args.markdown:
        write_section(args.markdown, section, SECTION_START, SECTION_END, "## Criticality toolkit")
    failed = any(result[name]["returncode"] != 0 for result in ratios for name in ("plain", "full")) or any(
        result["command"]["returncode"] != 0 for result in commands)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
