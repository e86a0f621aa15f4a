"""`gatehouse runs ...`: manage a runs directory, whatever domain made its runs."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    runs = subparsers.add_parser("runs", help="manage run directories").add_subparsers(dest="command", required=True)
    prune = runs.add_parser("prune", help="list (or with --apply remove) superseded runs, stale staging folders "
                                          "and, with --include-failed, failed attempts")
    prune.add_argument("--apply", action="store_true", help="remove them (default: dry run, nothing removed)")
    prune.add_argument("--include-failed", action="store_true",
                       help="also remove the failed attempts kept under runs/failed/ (default: kept as evidence)")
    prune.add_argument("--runs-dir", default="runs", type=Path)
    prune.set_defaults(handler=handle_prune)


def handle_prune(args) -> str:
    from gatehouse.runs import prune

    plan = prune.prune(args.runs_dir, apply=args.apply, include_failed=args.include_failed)
    return prune.describe_plan(plan, applied=args.apply, include_failed=args.include_failed)
