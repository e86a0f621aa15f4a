"""gatehouse command line: a thin layer that makes runs out of dbt builds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gatehouse.runs import RunError


def _phase2(sub) -> None:
    phase2 = sub.add_parser("phase2", help="criticality Phase 2: gain grid and g*").add_subparsers(
        dest="command", required=True)
    grid = phase2.add_parser("gain-grid", help="rate-matched branching metrics over the gain grid")
    grid.add_argument("--events", help="exceedance events parquet (with --summaries)")
    grid.add_argument("--summaries", help="per-layer summaries parquet (with --events)")
    grid.add_argument("--rasters", help="raster NPZ with X, A [C,N,L,T], cond_id, seq_id (with --conditions)")
    grid.add_argument("--conditions", help="condition map (parquet or csv) for --rasters")
    grid.add_argument("--preset", default="crossing", choices=["crossing", "flat"], help="synthetic preset")
    grid.add_argument("--seed", type=int, default=1337, help="synthetic generator seed")
    select = phase2.add_parser("select-gstar", help="g* from a gain-grid run's metrics.parquet")
    select.add_argument("--dep", help="gain-grid RUN_ID to select from")
    select.add_argument("--metrics", help="any metrics.parquet with the documented columns")
    for parser in (grid, select):
        parser.add_argument("--model-role", default="INSTRUCT", help="INSTRUCT (default) or BASE")
        parser.add_argument("--runs-dir", default="runs", type=Path, help="where run directories go")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gatehouse", description=__doc__)
    sub = parser.add_subparsers(dest="domain", required=True)
    _phase2(sub)
    args = parser.parse_args(argv)
    try:
        if args.domain == "phase2":
            from gatehouse.criticality import phase2
            if args.command == "gain-grid":
                run_dir = phase2.gain_grid(args.runs_dir, args.model_role, args.events, args.summaries,
                                           args.rasters, args.conditions, args.preset, args.seed)
            else:
                run_dir = phase2.select_gstar(args.runs_dir, args.model_role, args.dep, args.metrics)
    except RunError as error:
        print(f"gatehouse: {error}", file=sys.stderr)
        return error.exit_code
    except ValueError as error:  # InputError and friends: bad input, named
        print(f"gatehouse: {error}", file=sys.stderr)
        return 2
    print(run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
