"""Regenerate the README's Phase 2 figures from the default run:

    .venv/bin/python -m gatehouse.criticality.docs_figures [--runs-dir DIR] [--out docs/figures]

runs `phase2 gain-grid` and `phase2 select-gstar` (INSTRUCT, embedded crossing data) into DIR (a fresh
temporary directory by default) and copies F02, F03 and F05 (PNG) into --out.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from gatehouse.criticality import phase2
from gatehouse.project import project_dir

README_FIGURES = {"grid": ("F02_rate_match.png", "F03_b_tot_vs_gain.png"), "gstar": ("F05_gstar_selection.png",)}


def regenerate(runs_dir: Path, out: Path) -> list[Path]:
    grid = phase2.gain_grid(runs_dir, "INSTRUCT")
    gstar = phase2.select_gstar(runs_dir, "INSTRUCT", dep=grid.name)
    out.mkdir(parents=True, exist_ok=True)
    copied = []
    for run_dir, names in ((grid, README_FIGURES["grid"]), (gstar, README_FIGURES["gstar"])):
        for name in names:
            copied.append(Path(shutil.copyfile(run_dir / "figures" / name, out / name)))
    return copied


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-dir", type=Path, help="where the two runs go (default: a temporary directory)")
    parser.add_argument("--out", type=Path, default=None, help="default: docs/figures of the project")
    args = parser.parse_args(argv)
    args.out = args.out or project_dir() / "docs" / "figures"
    if args.runs_dir:
        paths = regenerate(args.runs_dir, args.out)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            paths = regenerate(Path(scratch), args.out)
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
