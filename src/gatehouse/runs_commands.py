"""`gatehouse runs prune`: remove superseded run folders, never pinned or locked ones (dry run by default)."""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    runs = subparsers.add_parser("runs", help="manage run directories").add_subparsers(dest="command", required=True)
    prune = runs.add_parser("prune", help="list (or with --apply remove) superseded runs and stale staging folders")
    prune.add_argument("--apply", action="store_true", help="remove them (default: dry run, nothing removed)")
    prune.add_argument("--runs-dir", default="runs", type=Path)
    prune.set_defaults(handler=handle_prune)


def handle_prune(args) -> str:
    from gatehouse.sites import discipline

    return discipline.describe_plan(discipline.prune(args.runs_dir, apply=args.apply), applied=args.apply)
