"""Segment 1B benchmark: the full chain at 1e5, 1e6 and 1e7 sites, time and peak RSS per state, and
the four-seed certification at 1e5 sites.

    .venv/bin/python -m bench.sites_bench --sites 1e5 1e6 --certify --markdown BENCHMARKS.md

Each state is built by its own `dbt build --select <state models>` process on one DuckDB file, so
`/usr/bin/time -v` gives that state's wall time and peak RSS (dbt's own start-up, ~3 s, included).
The catalogue is the default 1A surrogate with its merchant count scaled (about 13 sites per merchant).
With --markdown the section between the sites-bench markers of that file is rewritten from the results.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from gatehouse.project import project_dir

PROJECT_DIR = project_dir()

STATES = [  # (label, dbt selection)
    ("staging", "raw_geo__countries raw_geo__places raw_geo__iso_codes raw_1a__outlet_catalogue "
                "stg_geo__countries stg_geo__places stg_geo__iso_codes stg_1a__outlet_catalogue "
                "raw_policy__tiles raw_policy__tile_weights raw_policy__requirements raw_policy__alloc_plan "
                "raw_policy__jitter resource_type:seed"),
    ("S0", "s0_sealed_inputs s0_gate_receipt"),
    ("S1", "s1_tile_index"),
    ("S2", "s2_tile_weights s2_country_rebalance"),
    ("S3", "s3_requirements"),
    ("S4", "s4_alloc_plan s4_pair_diagnostics"),
    ("S5", "s5_site_tile_assignment"),
    ("S6", "s6_site_jitter"),
    ("S7", "s7_site_synthesis"),
    ("S8", "site_locations"),
    ("S9", "s9_rng_accounting s9_egress_checksums s9_point_in_country"),
    ("scorecard", "tag:realism,+realism_scorecard"),
]
REFERENCE_S4 = "reference S4 alone: ~38 min for 31,257 sites (segment_1B.impl_actual.md)"


def scaled_policy_dir(workdir: Path, sites: float) -> Path:
    policy_dir = workdir / "policies"
    shutil.copytree(PROJECT_DIR / "policies" / "sites", policy_dir, dirs_exist_ok=True)
    path = policy_dir / "outlets_1a.yaml"
    policy = yaml.safe_load(path.read_text())
    policy["merchants"]["count"] = max(1, round(policy["merchants"]["count"] * sites / 1e5))
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return policy_dir


def timed(command: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak RSS GiB, output) of one process under /usr/bin/time -v."""
    started = time.perf_counter()
    completed = subprocess.run(["/usr/bin/time", "-v", *command], cwd=PROJECT_DIR, env=env,
                               capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", completed.stderr).group(1))
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return seconds, peak_kib / 2**20, completed.stdout


def chain(sites: float, workdir: Path) -> list[dict]:
    workdir.mkdir(parents=True, exist_ok=True)
    variables = {"sites_seeds": [42], "sites_policy_dir": str(scaled_policy_dir(workdir, sites))}
    env = {**os.environ, "GATEHOUSE_DB": str(workdir / "bench.duckdb"), "DO_NOT_TRACK": "1",
           "DBT_PROFILES_DIR": str(PROJECT_DIR / "profiles")}
    dbt = str(Path(sys.executable).with_name("dbt"))
    rows = []
    for label, selection in STATES:
        command = [dbt, "build", "--select", *selection.split(), "--vars", json.dumps(variables),
                   "--target-path", str(workdir / "target"), "--indirect-selection", "cautious"]
        seconds, peak, _ = timed(command, env)
        results = json.loads((workdir / "target" / "run_results.json").read_text())["results"]
        node_seconds = sum(result["execution_time"] for result in results)
        rows.append({"sites": sites, "state": label, "node_seconds": round(node_seconds, 1),
                     "process_seconds": round(seconds, 1), "peak_rss_gib": round(peak, 2)})
        print(rows[-1], flush=True)
    return rows


def end_to_end(sites: float, workdir: Path) -> dict:
    """One `gatehouse sites run` (gate-in step, then S1-S9) at this size."""
    gatehouse = str(Path(sys.executable).with_name("gatehouse"))
    command = [gatehouse, "sites", "run", "--seed", "42", "--policy", str(workdir / "policies"),
               "--runs-dir", str(workdir / "runs")]
    seconds, peak, _ = timed(command, {**os.environ, "DO_NOT_TRACK": "1"})
    return {"sites": sites, "state": "end_to_end (gatehouse sites run)", "process_seconds": round(seconds, 1),
            "peak_rss_gib": round(peak, 2)}


def certification(workdir: Path, code: Path = PROJECT_DIR) -> dict:
    """`gatehouse sites certify` on the default (4 seeds, maps, GeoParquet and the prior sensitivity), with
    the gatehouse code and project found in `code` (this checkout, or an exported older revision)."""
    environment = {**os.environ, "DO_NOT_TRACK": "1", "PYTHONPATH": str(code / "src")}
    seconds, peak, output = timed([sys.executable, "-m", "gatehouse.cli", "sites", "certify", "--project-dir",
                                   str(code), "--runs-dir", str(workdir / "runs")], environment)
    certificate = json.loads((Path(output.strip().splitlines()[-1]) / "results" / "certificate.json").read_text())
    return {"seeds": "42 7 101 202", "sites": [card["n_sites"] for card in certificate["scorecards"]],
            "seconds": round(seconds, 1), "peak_rss_gib": round(peak, 2),
            "certified_grade": certificate["certified_grade"]}


def exported_revision(revision: str, workdir: Path) -> Path:
    """`git archive` of a revision of this checkout (code and project files, no .git) into workdir."""
    target = workdir / f"code-{revision}"
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(PROJECT_DIR), "archive", revision], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def certification_against(baseline: str, workdir: Path, repeat: int) -> dict:
    """Certify with this checkout and with `baseline` (a git revision), alternating, `repeat` times each;
    the fastest attempt of each counts (first attempts fill numba's and dbt's caches)."""
    old_code = exported_revision(baseline, workdir)
    attempts = {"current": [], "baseline": []}
    for attempt in range(repeat):
        for name, code in (("baseline", old_code), ("current", PROJECT_DIR)):
            attempts[name].append(certification(workdir / f"{name}-{attempt}", code))
            print(name, attempts[name][-1], flush=True)
    best = {name: min(runs, key=lambda run: run["seconds"]) for name, runs in attempts.items()}
    return {**best["current"], "baseline_revision": baseline, "baseline_seconds": best["baseline"]["seconds"],
            "saved_share": round(1 - best["current"]["seconds"] / best["baseline"]["seconds"], 3),
            "attempts": attempts}


def markdown(results: dict, command: str) -> str:
    sizes = sorted({row["sites"] for row in results["chain"]})
    cell = {(row["sites"], row["state"]): row for row in results["chain"]}
    lines = [f"Command: `{command}` (this section is written by it). Each state is its own `dbt build --select "
             "<state>` process on one DuckDB file under `/usr/bin/time -v`: dbt's node seconds (models + that "
             "state's gates) and, in brackets, peak RSS in GiB (each process adds ~3 s of dbt start-up). "
             "The catalogue is the default 1A surrogate with its merchant count scaled; one 1B seed. "
             f"Machine: {machine()}.", "",
             "| state | " + " | ".join(f"{size:.0e} sites" for size in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for label, _ in STATES:
        lines.append(f"| {label} | " + " | ".join(
            f"{cell[(size, label)]['node_seconds']} ({cell[(size, label)]['peak_rss_gib']})" for size in sizes) + " |")
    end = "end_to_end (gatehouse sites run)"
    lines.append("| **end to end, `gatehouse sites run`** (wall s, peak GiB) | " + " | ".join(
        f"**{cell[(size, end)]['process_seconds']} ({cell[(size, end)]['peak_rss_gib']})**" for size in sizes) + " |")
    certified = results["certification"]
    if certified:
        lines += ["", f"**Certification** (`gatehouse sites certify`: seeds {certified['seeds']}, "
                  f"{min(certified['sites']):,.0f}–{max(certified['sites']):,.0f} sites per seed, scorecards, gates, "
                  "plausibility, CV, bootstrap, PNG maps, GeoParquet and three prior-sensitivity builds): "
                  f"**{certified['seconds']} s**, peak RSS {certified['peak_rss_gib']} GiB, certified "
                  f"{certified['certified_grade']} (target: under 180 s on 2 cores)."]
        if "baseline_seconds" in certified:
            lines += ["", f"Against revision `{certified['baseline_revision']}` (before issue #12's gate-in step and "
                      f"one way in), certified in the same bench run, alternating, fastest of "
                      f"{len(certified['attempts']['current'])} each: **{certified['baseline_seconds']} s before, "
                      f"{certified['seconds']} s now, {certified['saved_share']:.0%} less wall time** (issue #12 "
                      "target: at least 30 % less). All attempts are in the results JSON. The machine's other load "
                      "is not controlled, so timings are noisy."]
    return "\n".join(lines) + "\n"


def machine() -> str:
    memory_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    return f"{os.cpu_count()} CPUs, {memory_kib / 2**20:.1f} GiB"


def write_markdown(path: Path, section: str) -> None:
    begin, end = "<!-- sites-bench:begin -->", "<!-- sites-bench:end -->"
    text = path.read_text()
    head, rest = text.split(begin)
    path.write_text(f"{head}{begin}\n{section}{end}{rest.split(end)[1]}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=float, nargs="*", default=[1e5, 1e6, 1e7])
    parser.add_argument("--certify", action="store_true", help="also time `gatehouse sites certify` (4 seeds)")
    parser.add_argument("--baseline", help="also certify with this git revision, alternating, and report the saving")
    parser.add_argument("--repeat", type=int, default=2, help="attempts per contender with --baseline")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gatehouse-bench-sites"))
    parser.add_argument("--markdown", type=Path, help="rewrite the sites-bench section of this file")
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    results = {"chain": [], "certification": None, "reference": REFERENCE_S4}
    for sites in args.sites:
        results["chain"] += chain(sites, args.workdir / f"{int(sites)}")
        results["chain"].append(end_to_end(sites, args.workdir / f"{int(sites)}"))
        print(results["chain"][-1], flush=True)
    if args.certify and args.baseline:
        results["certification"] = certification_against(args.baseline, args.workdir / "certify", args.repeat)
    elif args.certify:
        results["certification"] = certification(args.workdir / "certify")
        print(results["certification"], flush=True)
    (args.workdir / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    if args.markdown:
        command = ".venv/bin/python -m bench.sites_bench " + " ".join(argv if argv is not None else sys.argv[1:])
        write_markdown(args.markdown, markdown(results, command))


if __name__ == "__main__":
    main()
