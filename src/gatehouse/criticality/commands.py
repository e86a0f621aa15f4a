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
    grid.add_argument("--dep", help="a `phase2 capture` RUN_ID: its events and summaries (and model role)")
    select = phase2.add_parser("select-gstar", help="g* from a gain-grid run's metrics.parquet")
    select.add_argument("--dep", help="gain-grid RUN_ID to select from")
    select.add_argument("--metrics", help="any metrics.parquet with the documented columns")
    for parser in (grid, select):
        parser.add_argument("--model-role", default="INSTRUCT", help="INSTRUCT (default) or BASE")
        parser.add_argument("--runs-dir", default="runs", type=Path, help="where run directories go")
        parser.set_defaults(handler=run)
    register_real_model(subparsers, phase2)


def register_real_model(subparsers, phase2) -> None:
    """`phase1 calibrate` and `phase2 capture`: the chain on a real transformer (extra `models`)."""
    phase1 = subparsers.add_parser("phase1", help="criticality Phase 1: calibration on a real transformer")
    calibrate = phase1.add_subparsers(dest="command", required=True).add_parser(
        "calibrate", help="mu/sigma of the MLP activations and the per-layer rate targets")
    calibrate.add_argument("--model-role", default="INSTRUCT",
                           help="INSTRUCT (default) or BASE: the model of policies/criticality/models.yaml")
    calibrate.add_argument("--model", help="a local model directory instead of the role's (config.json, weights, tokenizer)")
    calibrate.add_argument("--texts", help="text file, directory of text files, or parquet with a `text` column "
                                           "(default: the standard library's pydoc_data.topics)")
    calibrate.add_argument("--n-windows", type=int, help="calibration windows (default: max(64, the minimum sample))")
    calibrate.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    calibrate.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="torch device")
    calibrate.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"], help="model dtype")
    capture = phase2.add_parser("capture", help="MLP spikes under every gain of the grid, into events + summaries")
    capture.add_argument("--dep", required=True, help="the Phase 1 (calibrate) RUN_ID")
    capture.add_argument("--model-role", help="must match the Phase 1 run's model role (default: that role)")
    for parser in (calibrate, capture):
        parser.add_argument("--runs-dir", default="runs", type=Path, help="where run directories go")
        parser.set_defaults(handler=run)


def run(args) -> Path:
    from gatehouse.criticality import phase2

    if args.command == "calibrate":
        from gatehouse.criticality import phase1
        return phase1.calibrate(args.runs_dir, args.model_role, args.model, args.texts, args.n_windows,
                                args.batch_size, args.device, args.dtype)
    if args.command == "capture":
        from gatehouse.criticality import capture
        return capture.capture(args.runs_dir, args.dep, args.model_role)
    if args.command == "gain-grid":
        return phase2.gain_grid(args.runs_dir, args.model_role, args.events, args.summaries, args.rasters,
                                args.conditions, args.preset, args.seed, args.dep)
    return phase2.select_gstar(args.runs_dir, args.model_role, args.dep, args.metrics)
