"""PNG maps of Segment 1B site placements, in plate carrée (lon/lat) degrees.

One world map with every site over all country outlines, then one map for each of the countries
with the most sites. Figures are drawn with matplotlib's Agg canvas directly (no pyplot global
state), with a fixed size and dpi and no Software tag, so the same input gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

DPI = 110
WORLD_FIGSIZE_IN = (12.0, 6.5)
COUNTRY_FIGSIZE_IN = (7.0, 7.0)
WORLD_SIMPLIFY_DEG = 0.05
OUTLINE_COLOUR = "0.7"
SITE_COLOUR = "tab:red"
MARGIN_FRACTION = 0.05
MIN_MARGIN_DEG = 0.1
PNG_METADATA = {"Software": None}


def write_site_maps(
    sites: pd.DataFrame,
    country_geometries: dict,
    out_dir: Path,
    seed: int,
    n_countries: int = 3,
) -> list[Path]:
    """Write the world map and the maps of the `n_countries` countries with most sites; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [_write_world_map(sites, country_geometries, out_dir / f"map_seed{seed}_world.png", seed)]
    for iso in top_countries(sites, n_countries):
        country_sites = sites[sites["legal_country_iso"] == iso]
        path = out_dir / f"map_seed{seed}_{iso}.png"
        paths.append(_write_country_map(iso, country_sites, country_geometries.get(iso), path, seed))
    return paths


def top_countries(sites: pd.DataFrame, n: int) -> list[str]:
    """The `n` ISO codes with the most sites, ties broken alphabetically."""
    counts = sites.groupby("legal_country_iso").size().sort_index()
    return counts.sort_values(ascending=False, kind="stable").index[:n].tolist()


def country_view_bounds(geometry, sites) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) to show: the polygon's bounds, else the sites' bounds."""
    # A polygon crossing the antimeridian spans about the whole longitude range; use the sites instead.
    if geometry is not None and not geometry.is_empty and not crosses_antimeridian(geometry):
        return geometry.bounds
    lon, lat = _site_coordinates(sites)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def exterior_ring_lines(geometries) -> list[np.ndarray]:
    """One (k, 2) lon/lat array per exterior ring of every polygon part."""
    parts = shapely.get_parts(np.asarray([g for g in geometries if g is not None], dtype=object))
    rings = shapely.get_exterior_ring(parts[shapely.get_type_id(parts) == shapely.GeometryType.POLYGON])
    coords, ring_index = shapely.get_coordinates(rings, return_index=True)
    return np.split(coords, np.flatnonzero(np.diff(ring_index)) + 1) if len(coords) else []


def crosses_antimeridian(geometry) -> bool:
    """True when the geometry's longitude bounds span more than half the globe (e.g. US, RU, FJ)."""
    min_lon, _, max_lon, _ = geometry.bounds
    return max_lon - min_lon > 180.0


def _write_world_map(sites, country_geometries, path: Path, seed: int) -> Path:
    figure, axes = _new_figure(WORLD_FIGSIZE_IN)
    simplified = shapely.simplify(np.asarray(list(country_geometries.values()), dtype=object), WORLD_SIMPLIFY_DEG)
    _draw_outlines(axes, simplified)
    _draw_sites(axes, sites, markersize=1.0, alpha=0.25)
    axes.set_xlim(-180, 180)
    axes.set_ylim(-90, 90)
    axes.set_title(f"World · seed {seed} · {len(sites):,} sites")
    return _save(figure, path)


def _write_country_map(iso: str, sites, geometry, path: Path, seed: int) -> Path:
    figure, axes = _new_figure(COUNTRY_FIGSIZE_IN)
    _draw_outlines(axes, [geometry])
    _draw_sites(axes, sites, markersize=2.0, alpha=0.4)
    _set_limits(axes, country_view_bounds(geometry, sites))
    axes.set_title(f"{iso} · seed {seed} · {len(sites):,} sites")
    return _save(figure, path)


def _set_limits(axes, bounds) -> None:
    min_lon, min_lat, max_lon, max_lat = bounds
    margin = max(MARGIN_FRACTION * max(max_lon - min_lon, max_lat - min_lat), MIN_MARGIN_DEG)
    axes.set_xlim(min_lon - margin, max_lon + margin)
    axes.set_ylim(min_lat - margin, max_lat + margin)


def _new_figure(figsize_in):
    figure = Figure(figsize=figsize_in, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_aspect("equal")  # plate carrée: one degree of lon and lat take the same length
    axes.set_xlabel("longitude (°)")
    axes.set_ylabel("latitude (°)")
    return figure, axes


def _draw_outlines(axes, geometries) -> None:
    axes.add_collection(LineCollection(exterior_ring_lines(geometries), colors=OUTLINE_COLOUR, linewidths=0.5))


def _draw_sites(axes, sites, markersize: float, alpha: float) -> None:
    lon, lat = _site_coordinates(sites)
    # A marker-only Line2D is rendered by stamping one cached marker, far faster than scatter for 400k points.
    axes.plot(lon, lat, linestyle="none", marker=".", markersize=markersize, markeredgewidth=0,
              color=SITE_COLOUR, alpha=alpha)


def _site_coordinates(sites) -> tuple[np.ndarray, np.ndarray]:
    return sites["lon_deg"].to_numpy(dtype=np.float64), sites["lat_deg"].to_numpy(dtype=np.float64)


def _save(figure: Figure, path: Path) -> Path:
    figure.savefig(path, format="png", dpi=DPI, metadata=PNG_METADATA)
    return path
