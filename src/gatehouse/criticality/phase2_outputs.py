"""What the Phase 2 commands add to a run beyond metrics.parquet and gstar.json: the avalanche table's
export, the figures (F02, F03 for a gain grid; F05 for a g* selection), the g* annotations of gstar.json and the
warning for a g* at a grid edge without a crossing."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from gatehouse.runs.execute import Export

FIGURE_MODULES = ("gatehouse.criticality.figures",)  # matplotlib: seconds to import, so preloaded while dbt builds

AVALANCHE_ORDER = "model_role, spike_def_id, target_rate, gain, adjacency, seq_id, component_id"
GSTAR_ANNOTATIONS = ("n_crossings", "crossing_gain", "b_tot_ci_low_at_gstar", "b_tot_ci_high_at_gstar",
                     "b_tot_ci_contains_one_at_gstar", "b_tot_slope_ci_low", "b_tot_slope_ci_high")


def _provenance(run, model_role: str) -> dict:
    return {"run_id": run.run_id, "code_version": run.record.get("code_version", "no_git_metadata"),
            "config_hash": run.record.get("config_hash", ""), "model_role": model_role}


def _artifact_figures(run, paths: list[Path]) -> None:
    for path in paths:
        relative = path.relative_to(run.staging).as_posix()
        run.artifact(f"figure_{path.stem}_{path.suffix.lstrip('.')}", relative)


AVALANCHES_EXPORT = Export(
    "avalanches_parquet", f"select * replace (model_role::varchar as model_role, spike_def_id::varchar as "
                          f"spike_def_id, adjacency::varchar as adjacency) from avalanches order by {AVALANCHE_ORDER}",
    "avalanches.parquet")


def write_grid_figures(run, con) -> None:
    """Figures F02 and F03 of a gain-grid run, each an artifact."""
    from gatehouse.criticality import figures

    metrics = con.execute("select * from gain_grid_metrics order by model_role, spike_def_id, target_rate, gain").df()
    directory = run.staging / "figures"
    paths = []
    for kind in ("F02", "F03"):
        paths += figures.draw(kind, directory, _provenance(run, run.record.get("model_role", "")), metrics)
    _artifact_figures(run, paths)


def write_gstar_figure(run, con, model_role: str) -> None:
    """Figure F05 of a g* selection (also from a user's metrics table)."""
    from gatehouse.criticality import figures

    metrics = con.execute("select * from int_grid_metrics_restricted where model_role = ? "
                          "order by spike_def_id, target_rate, gain", [model_role]).df()
    gstar = con.execute("select * from gstar where model_role = ? order by spike_def_id, target_rate",
                        [model_role]).df()
    _artifact_figures(run, figures.draw("F05", run.staging / "figures", _provenance(run, model_role), metrics, gstar))


def _json_value(value):
    """A JSON-safe scalar: None for null/NaN, bool/int/float otherwise."""
    import pandas as pd

    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, int) or type(value).__name__.startswith("int"):
        return int(value)
    return float(value)


def gstar_annotations(row) -> dict:
    """The annotation fields of one gstar row for gstar.json (None where not available)."""
    return {name: _json_value(getattr(row, name)) for name in GSTAR_ANNOTATIONS}


def warn_about_the_grid(document: dict, stream=None) -> list[str]:
    """A plain warning on stderr for every condition whose b_tot curve lacks gains of the grid (g* is chosen
    among the gains it has), and for every g* at the edge of those gains with no crossing of 1."""
    stream = stream or sys.stderr
    lines = []
    for label, row in sorted(document["by_condition"].items()):
        where = f"warning: {document['model_role']} {label}:"
        if row["grid_gains_missing"]:
            lines.append(f"{where} the metrics lack {len(row['grid_gains_missing'])} gain(s) of the grid "
                         f"{row['grid_gains_missing']}; g* is chosen among the gains they hold")
        if row["gstar_at_grid_edge"] and not row["crosses_one_in_grid"]:
            lines.append(f"{where} g* = {row['gstar']} sits at the edge of the gain grid"
                         f"{' the metrics hold' if row['grid_gains_missing'] else ''} and b_tot does not cross 1 "
                         f"inside it (b_tot at g* = {row['b_tot_at_gstar']:.4f}); this g* marks the end of the grid, "
                         "not a critical point")
    for line in lines:
        print(line, file=stream)
    return lines
