"""`gatehouse phase2 ...`: the four commands of the Phase 2 task card."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    phase2 = subparsers.add_parser("phase2", help="criticality Phase 2: gain grid and g*").add_subparsers(
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
        parser.set_defaults(handler=run)


def run(args) -> Path:
    from gatehouse.criticality import phase2

    if args.command == "gain-grid":
        return phase2.gain_grid(args.runs_dir, args.model_role, args.events, args.summaries, args.rasters,
                                args.conditions, args.preset, args.seed)
    return phase2.select_gstar(args.runs_dir, args.model_role, args.dep, args.metrics)
