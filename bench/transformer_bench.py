"""Real-transformer chain benchmark: Phase 1 calibrate -> capture -> gain-grid -> select-gstar on the
embedded MiniLM and text, each command under `/usr/bin/time -v` (wall time, peak RSS), run twice into
two runs directories to check that every result file is byte-identical across the two chains.

    .venv/bin/python -m bench.transformer_bench --markdown BENCHMARKS.md

With --markdown the section between the transformer-bench markers of that file is rewritten.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import duckdb

from bench.sites_bench import machine, timed

BEGIN, END = "<!-- transformer-bench:begin -->", "<!-- transformer-bench:end -->"
RESULT_FILES = {"calibrate": ["calibration_stats.npz", "rate_targets.json"],
                "capture": ["events.parquet", "summaries.parquet"], "gain-grid": ["metrics.parquet"],
                "select-gstar": ["gstar.json"]}


def run_chain(runs_dir: Path) -> list[dict]:
    """The four commands, each given the previous run id; one row per command."""
    gatehouse = str(Path(sys.executable).with_name("gatehouse"))
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    steps = [("calibrate", ["phase1", "calibrate"]), ("capture", ["phase2", "capture", "--dep"]),
             ("gain-grid", ["phase2", "gain-grid", "--dep"]), ("select-gstar", ["phase2", "select-gstar", "--dep"])]
    rows, previous = [], None
    for name, arguments in steps:
        command = [gatehouse, *arguments, *([previous] if previous else []), "--runs-dir", str(runs_dir), "--quiet"]
        seconds, peak, output = timed(command, env)
        folder = Path(output.strip().splitlines()[-1])
        previous = folder.name
        digests = {file: hashlib.sha256((folder / "results" / file).read_bytes()).hexdigest()
                   for file in RESULT_FILES[name]}
        rows.append({"step": name, "run_id": folder.name, "seconds": round(seconds, 1),
                     "peak_rss_mib": round(peak * 1024), "sha256": digests, "folder": str(folder)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def capture_counts(capture_folder: str) -> dict:
    """Events, gains and tokens forwarded (gains x windows x tokens) of a capture run."""
    con = duckdb.connect()
    results = f"{capture_folder}/results"
    events = con.execute(f"select count(*) from read_parquet('{results}/events.parquet')").fetchone()[0]
    gains, tokens = con.execute(f"select count(distinct gain), count(distinct gain) * any_value(n_sequences) "
                                f"* any_value(seq_len) from read_parquet('{results}/summaries.parquet')").fetchone()
    return {"events": events, "gains": gains, "tokens": tokens}


def b_tot_range(grid_folder: str) -> list[tuple]:
    con = duckdb.connect()
    return con.execute(f"select target_rate, min(b_tot), max(b_tot) from "
                       f"read_parquet('{grid_folder}/results/metrics.parquet') group by all order by 1").fetchall()


def markdown(first: list[dict], second: list[dict], command: str) -> str:
    identical = all(a["sha256"] == b["sha256"] for a, b in zip(first, second))
    counts = capture_counts(first[1]["folder"])
    lines = [f"Command: `{command}` (this section is written by it). Each command of the README's chain under "
             f"`/usr/bin/time -v`, on the embedded MiniLM and text (64 windows x 256 tokens). Machine: {machine()}.",
             "", "| command | wall s | peak RSS MiB |", "|---|---|---|"]
    lines += [f"| `{row['step']}` | {row['seconds']} | {row['peak_rss_mib']} |" for row in first]
    capture_seconds = first[1]["seconds"]
    lines += ["", f"Whole chain: {sum(row['seconds'] for row in first):.1f} s, peak RSS "
              f"{max(row['peak_rss_mib'] for row in first)} MiB (issue #9 targets: under 600 s, under 4096 MiB). "
              f"Capture: {counts['events']} events over {counts['gains']} gains, "
              f"{counts['tokens'] / capture_seconds:.0f} tokens/s and {counts['events'] / capture_seconds:.0f} "
              "events/s (tokens forwarded = gains x windows x 256).", "",
              "A second chain into another "
              f"runs directory gave {'byte-identical' if identical else 'DIFFERENT'} result files "
              f"({', '.join(file for files in RESULT_FILES.values() for file in files)}).", "",
              "b_tot range per target rate over the 11 gains (both spike definitions):", "",
              "| target rate | min b_tot | max b_tot |", "|---|---|---|"]
    lines += [f"| {rate:g} | {low:.3f} | {high:.3f} |" for rate, low, high in b_tot_range(first[2]["folder"])]
    return "\n".join(lines)


def write_section(path: Path, body: str) -> None:
    text = path.read_text()
    block = f"{BEGIN}\n{body}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Real transformer chain (Phase 1 + capture on MiniLM)\n\n" + block + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="rewrite this file's transformer-bench section")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gatehouse-transformer-bench-") as scratch:
        first = run_chain(Path(scratch) / "first")
        second = run_chain(Path(scratch) / "second")
        body = markdown(first, second, "python -m bench.transformer_bench --markdown BENCHMARKS.md")
    print(body)
    if args.markdown:
        write_section(args.markdown, body)


if __name__ == "__main__":
    main()
