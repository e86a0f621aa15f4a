"""Phase 2 figures (F02 rate-match check, F03 b_tot(g) with CI and null bands, F05 g* selection), as
PNG and PDF with provenance in the file metadata and deterministic bytes.

matplotlib's object API with the Agg canvas (no pyplot, no global backend): fixed rcParams, no
software/date stamps (PNG `Software`, PDF `CreationDate`/`ModDate`/`Producer` removed), a fixed
`svg.hashsalt`; the same data and provenance give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.figure import Figure

FIGURE_RC = {"svg.hashsalt": "gatehouse", "font.family": "DejaVu Sans", "font.size": 8, "axes.titlesize": 8,
             "figure.dpi": 100, "savefig.dpi": 100, "pdf.fonttype": 42, "path.simplify": False}
CURVE_KEYS = ["spike_def_id", "target_rate"]
NULL_COLOURS = {"perm": "tab:grey", "shift": "tab:orange"}


def _panels(frame: pd.DataFrame) -> tuple[list[str], list[float]]:
    return sorted(frame.spike_def_id.unique()), sorted(frame.target_rate.unique())


def _grid(frame: pd.DataFrame, title: str) -> tuple[Figure, np.ndarray, list[str], list[float]]:
    spike_defs, rates = _panels(frame)
    figure = Figure(figsize=(2.6 * len(rates) + 0.6, 2.3 * len(spike_defs) + 0.7))
    axes = np.atleast_2d(figure.subplots(len(spike_defs), len(rates), squeeze=False, sharex=True))
    figure.suptitle(title)
    return figure, axes, spike_defs, rates


def rate_match_figure(metrics: pd.DataFrame) -> Figure:
    """F02: the largest per-layer |achieved - target| rate error per gain, per spike definition and
    target rate, against the tolerance."""
    tolerance = float(metrics.rate_match_tol_abs.iloc[0])
    within = bool((metrics.achieved_rate_max_abs_err <= tolerance).all())
    figure = Figure(figsize=(6.4, 3.6))
    axes = figure.subplots()
    for (spike_def, rate), rows in metrics.sort_values("gain").groupby(CURVE_KEYS, sort=True):
        axes.plot(rows.gain, rows.achieved_rate_max_abs_err, marker="o", markersize=3,
                  label=f"{spike_def.removeprefix('SPIKE_').lower()} r*={rate:g}")
    axes.axhline(tolerance, color="tab:red", linestyle="--", label=f"tolerance {tolerance:g}")
    axes.set_xlabel("gain g")
    axes.set_ylabel("max |achieved - target| rate")
    axes.set_yscale("symlog", linthresh=1e-9)
    axes.set_title(f"F02 rate-match check: every layer within tolerance: {'yes' if within else 'NO'}")
    axes.legend(fontsize=6, ncol=2)
    return figure


def _band(axes, rows: pd.DataFrame, low: str, high: str, **style) -> None:
    if low in rows and rows[low].notna().any():
        axes.fill_between(rows.gain, rows[low], rows[high], linewidth=0, **style)


def branching_figure(metrics: pd.DataFrame) -> Figure:
    """F03: b_tot(g) per spike definition (rows) and target rate (columns) with its 95 % bootstrap
    band, and both nulls (permutation expectation and circular shift) with their bands."""
    figure, axes, spike_defs, rates = _grid(metrics, "F03 b_tot(g) with 95 % bootstrap band; nulls: "
                                                     "permutation (grey), circular shift (orange)")
    for i, spike_def in enumerate(spike_defs):
        for j, rate in enumerate(rates):
            panel = axes[i, j]
            rows = metrics[(metrics.spike_def_id == spike_def) & (metrics.target_rate == rate)].sort_values("gain")
            _band(panel, rows, "b_tot_ci_low", "b_tot_ci_high", color="tab:blue", alpha=0.25)
            panel.plot(rows.gain, rows.b_tot, color="tab:blue", marker="o", markersize=2.5, label="b_tot")
            for null, colour in NULL_COLOURS.items():
                if f"b_tot_{null}" in rows:
                    _band(panel, rows, f"b_tot_{null}_ci_low", f"b_tot_{null}_ci_high", color=colour, alpha=0.25)
                    panel.plot(rows.gain, rows[f"b_tot_{null}"], color=colour, linewidth=1, label=f"b_tot_{null}")
            panel.axhline(1.0, color="black", linestyle=":", linewidth=0.8)
            panel.set_title(f"{spike_def.removeprefix('SPIKE_').lower()}, r* = {rate:g}")
            if j == 0:
                panel.set_ylabel("b_tot")
            if i == len(spike_defs) - 1:
                panel.set_xlabel("gain g")
    axes[0, 0].legend(fontsize=6)
    return figure


def _selection_note(row: pd.Series) -> str:
    if pd.notna(row.get("crossing_gain")):
        return f"crossing at g = {row.crossing_gain:.3f}"
    where = "at a grid edge" if row.gstar_at_grid_edge else "inside the grid"
    return f"no crossing of 1 in the grid; g* {where}"


def gstar_figure(metrics: pd.DataFrame, gstar: pd.DataFrame) -> Figure:
    """F05: |b_tot - 1| per gain per condition, g* marked, the crossing (or its absence) stated."""
    figure, axes, spike_defs, rates = _grid(metrics, "F05 g* selection: criterion b_tot near one "
                                                     "(argmin |b_tot - 1|)")
    for i, spike_def in enumerate(spike_defs):
        for j, rate in enumerate(rates):
            panel = axes[i, j]
            rows = metrics[(metrics.spike_def_id == spike_def) & (metrics.target_rate == rate)].sort_values("gain")
            panel.plot(rows.gain, (rows.b_tot - 1.0).abs(), color="tab:blue", marker="o", markersize=2.5)
            chosen = gstar[(gstar.spike_def_id == spike_def) & (gstar.target_rate == rate)]
            if len(chosen):
                row = chosen.iloc[0]
                panel.axvline(row.gstar, color="tab:red", linewidth=1)
                panel.plot([row.gstar], [abs(row.b_tot_at_gstar - 1.0)], marker="*", color="tab:red", markersize=9)
                if pd.notna(row.get("crossing_gain")):
                    panel.axvline(row.crossing_gain, color="tab:green", linestyle="--", linewidth=0.8)
                panel.text(0.02, 0.97, f"g* = {row.gstar:g}\n{_selection_note(row)}", transform=panel.transAxes,
                           va="top", fontsize=6)
            panel.set_title(f"{spike_def.removeprefix('SPIKE_').lower()}, r* = {rate:g}")
            if j == 0:
                panel.set_ylabel("|b_tot - 1|")
            if i == len(spike_defs) - 1:
                panel.set_xlabel("gain g")
    return figure


def provenance_text(provenance: dict) -> str:
    return "; ".join(f"{key}={provenance[key]}" for key in sorted(provenance))


def save_figure(figure: Figure, directory: Path, stem: str, provenance: dict) -> list[Path]:
    """stem.png and stem.pdf in `directory`, provenance in the metadata, no dates: same bytes each time."""
    directory.mkdir(parents=True, exist_ok=True)
    text = provenance_text(provenance)
    png, pdf = directory / f"{stem}.png", directory / f"{stem}.pdf"
    with matplotlib.rc_context(FIGURE_RC):
        figure.tight_layout()
        FigureCanvasAgg(figure).print_png(png, metadata={"Software": None, "Title": stem, "Description": text,
                                                         **{key: str(value) for key, value in provenance.items()}})
        FigureCanvasPdf(figure).print_pdf(pdf, metadata={"Creator": None, "Producer": None, "CreationDate": None,
                                                         "ModDate": None, "Title": stem, "Subject": text,
                                                         "Keywords": text})
    return [png, pdf]


def draw(kind: str, directory: Path, provenance: dict, metrics: pd.DataFrame,
         gstar: pd.DataFrame | None = None) -> list[Path]:
    """Build one figure ("F02", "F03", "F05") in a fixed style and save it; returns the files."""
    builders = {"F02": ("F02_rate_match", lambda: rate_match_figure(metrics)),
                "F03": ("F03_b_tot_vs_gain", lambda: branching_figure(metrics)),
                "F05": ("F05_gstar_selection", lambda: gstar_figure(metrics, gstar))}
    stem, build = builders[kind]
    with matplotlib.rc_context(FIGURE_RC):
        figure = build()
    return save_figure(figure, directory, stem, {**provenance, "figure_id": kind})
