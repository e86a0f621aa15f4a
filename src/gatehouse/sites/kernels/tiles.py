"""S1 tile index: which cells of a regular lat/lon grid belong to which country.

The grid has ``ncols = 360/res`` columns from lon -180 eastwards and ``nrows = 180/res`` rows from
lat +90 southwards (row 0 is the northernmost). ``tile_id = row * ncols + col``.

A cell belongs to a country when its centre lies inside the country polygon or on its boundary
(inclusion rule ``center``, the reference's default predicate). Countries too small to contain any
cell centre get the single cell holding their ``representative_point()`` instead (inclusion rule
``representative_point``): 1A may place sites in any country, and S3 needs at least one tile for each
of them, so no polygon is allowed to vanish because the grid is coarse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pandas as pd
import shapely

TILE_COLUMNS = [
    "country_iso", "tile_id", "raster_row", "raster_col", "centroid_lon", "centroid_lat",
    "min_lon", "max_lon", "min_lat", "max_lat", "area_m2", "inclusion_rule",
]
RULE_CENTER = "center"
RULE_REPRESENTATIVE_POINT = "representative_point"

WGS84_A = 6378137.0
WGS84_F = 1 / 298.257223563

# Cell centres tested per vectorised call; bounds memory independently of country size.
_CHUNK_CELLS = 1 << 20


# ---------------------------------------------------------------------------------------------------
# Grid geometry


@dataclass(frozen=True)
class Grid:
    """A global lat/lon grid of square cells ``res_deg`` wide."""

    res_deg: float
    ncols: int
    nrows: int

    @classmethod
    def from_resolution(cls, res_deg: float) -> "Grid":
        if not (isinstance(res_deg, (int, float)) and math.isfinite(res_deg) and 0 < res_deg <= 180):
            raise ValueError(f"grid resolution must be in (0, 180] degrees, got {res_deg!r}")
        ncols, nrows = round(360 / res_deg), round(180 / res_deg)
        if abs(ncols * res_deg - 360) > 1e-9 * 360 or abs(nrows * res_deg - 180) > 1e-9 * 180:
            raise ValueError(f"grid resolution {res_deg!r} does not divide 360 and 180 degrees evenly")
        return cls(res_deg=float(res_deg), ncols=ncols, nrows=nrows)

    @property
    def step_lon(self) -> float:
        return 360.0 / self.ncols

    @property
    def step_lat(self) -> float:
        return 180.0 / self.nrows

    def col_west_lon(self, col):
        return -180.0 + np.asarray(col) * self.step_lon

    def row_north_lat(self, row):
        return 90.0 - np.asarray(row) * self.step_lat

    def col_center_lon(self, col):
        return -180.0 + (np.asarray(col) + 0.5) * self.step_lon

    def row_center_lat(self, row):
        return 90.0 - (np.asarray(row) + 0.5) * self.step_lat

    def cell_of(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of the cells containing the points; lon 180 wraps to col 0, lat -90 is the last row."""
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        col = np.floor((lon + 180.0) / self.step_lon).astype(np.int64) % self.ncols
        row = np.clip(np.floor((90.0 - lat) / self.step_lat).astype(np.int64), 0, self.nrows - 1)
        return row, col

    def tile_id(self, row, col) -> np.ndarray:
        return np.asarray(row, dtype=np.int64) * self.ncols + np.asarray(col, dtype=np.int64)


def tile_ids_of_points(lon, lat, res_deg: float) -> np.ndarray:
    """Tile ids of the cells containing the given points (shared by S1 and S2)."""
    grid = Grid.from_resolution(res_deg)
    return grid.tile_id(*grid.cell_of(lon, lat))


# ---------------------------------------------------------------------------------------------------
# Ellipsoidal area


def _authalic_q(lat_deg, f: float = WGS84_F) -> np.ndarray:
    """q(phi) of the authalic latitude; the area between the equator and phi is pi*a^2*q(phi) per 2*pi."""
    e2 = f * (2 - f)
    e = math.sqrt(e2)
    s = np.sin(np.radians(lat_deg))
    return (1 - e2) * (s / (1 - e2 * s * s) + np.arctanh(e * s) / e)


def cell_area_m2(south_deg, north_deg, width_deg, a: float = WGS84_A, f: float = WGS84_F) -> np.ndarray:
    """Exact area on the WGS84 ellipsoid of the lat/lon rectangle [south, north] x width.

    Area = a^2/2 * dlambda * (q(north) - q(south)), from integrating the ellipsoid's surface element
    a^2 (1-e^2) cos(phi) / (1 - e^2 sin^2 phi)^2 dphi dlambda in closed form.
    """
    dq = _authalic_q(north_deg, f) - _authalic_q(south_deg, f)
    return 0.5 * a * a * np.radians(width_deg) * dq


def ellipsoid_area_m2(a: float = WGS84_A, f: float = WGS84_F) -> float:
    """Total surface area of the ellipsoid (5.10065621724e14 m^2 for WGS84)."""
    return float(cell_area_m2(-90.0, 90.0, 360.0, a, f))


# ---------------------------------------------------------------------------------------------------
# Tile index


def build_tile_index(countries: pd.DataFrame, res_deg: float, only: list[str] | None = None) -> pd.DataFrame:
    """Tiles of every country (or of ``only``), sorted by (country_iso, tile_id); see ``TILE_COLUMNS``.

    ``countries`` needs ``country_iso`` and ``geometry`` columns (as from ``geodata.load_countries``).
    """
    grid = Grid.from_resolution(res_deg)
    selected = _select_countries(countries, only)
    frames = [
        _tiles_frame(grid, iso, *_country_cells(grid, geometry))
        for iso, geometry in zip(selected["country_iso"], selected["geometry"])
    ]
    if not frames:
        return _empty_tile_frame()
    return pd.concat(frames, ignore_index=True)


def countries_using_fallback(tile_index: pd.DataFrame) -> list[str]:
    """Countries whose only tile came from the representative-point fallback."""
    used = tile_index.loc[tile_index["inclusion_rule"] == RULE_REPRESENTATIVE_POINT, "country_iso"]
    return sorted(used.unique())


def countries_without_tiles(countries: pd.DataFrame, tile_index: pd.DataFrame) -> list[str]:
    """Countries of ``countries`` that have no tile (empty by construction of the fallback)."""
    return sorted(set(countries["country_iso"]) - set(tile_index["country_iso"]))


def _select_countries(countries: pd.DataFrame, only: list[str] | None) -> pd.DataFrame:
    selected = countries.sort_values("country_iso", kind="stable")
    if only is None:
        return selected
    unknown = sorted(set(only) - set(countries["country_iso"]))
    if unknown:
        raise ValueError(f"unknown country codes in only=: {unknown}")
    return selected.loc[selected["country_iso"].isin(only)]


def _country_cells(grid: Grid, geometry) -> tuple[np.ndarray, str]:
    """Sorted unique tile ids whose centre is in ``geometry``, or the fallback tile."""
    found = [ids for part in shapely.get_parts(geometry) for ids in _part_cells(grid, part)]
    if found:
        return _sorted_unique(np.concatenate(found)), RULE_CENTER
    point = geometry.representative_point()
    return grid.tile_id(*grid.cell_of(point.x, point.y)).reshape(1), RULE_REPRESENTATIVE_POINT


def _part_cells(grid: Grid, part) -> Iterator[np.ndarray]:
    """Tile ids whose centre is inside or on ``part``, scanning its bounding box in row chunks."""
    min_lon, min_lat, max_lon, max_lat = part.bounds
    col_lo, col_hi = _center_index_range(min_lon + 180.0, max_lon + 180.0, grid.step_lon, grid.ncols)
    row_lo, row_hi = _center_index_range(90.0 - max_lat, 90.0 - min_lat, grid.step_lat, grid.nrows)
    if col_lo > col_hi or row_lo > row_hi:
        return
    shapely.prepare(part)
    cols = np.arange(col_lo, col_hi + 1, dtype=np.int64)
    lons = grid.col_center_lon(cols)
    rows_per_chunk = max(1, _CHUNK_CELLS // cols.size)
    for first_row in range(row_lo, row_hi + 1, rows_per_chunk):
        rows = np.arange(first_row, min(first_row + rows_per_chunk, row_hi + 1), dtype=np.int64)
        lon_grid, lat_grid = np.meshgrid(lons, grid.row_center_lat(rows))
        inside = shapely.intersects_xy(part, lon_grid, lat_grid)
        if inside.any():
            row_idx, col_idx = np.nonzero(inside)
            yield grid.tile_id(rows[row_idx], cols[col_idx])


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # np.unique is several times slower here: it hashes before sorting.
    values = np.sort(values)
    keep = np.ones(values.size, dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _center_index_range(lo: float, hi: float, step: float, count: int) -> tuple[int, int]:
    """First and last cell index whose centre offset (i + 0.5) * step lies in [lo, hi]."""
    first = max(0, math.ceil(lo / step - 0.5))
    last = min(count - 1, math.floor(hi / step - 0.5))
    return first, last


def _tiles_frame(grid: Grid, iso: str, tile_ids: np.ndarray, rule: str) -> pd.DataFrame:
    rows, cols = np.divmod(tile_ids, grid.ncols)
    north, west = grid.row_north_lat(rows), grid.col_west_lon(cols)
    south, east = north - grid.step_lat, west + grid.step_lon
    area_by_row = _row_areas(grid, rows)
    return pd.DataFrame({
        "country_iso": iso,
        "tile_id": tile_ids.astype(np.int64),
        "raster_row": rows.astype(np.int32),
        "raster_col": cols.astype(np.int32),
        "centroid_lon": grid.col_center_lon(cols),
        "centroid_lat": grid.row_center_lat(rows),
        "min_lon": west,
        "max_lon": east,
        "min_lat": south,
        "max_lat": north,
        "area_m2": area_by_row,
        "inclusion_rule": rule,
    })


def _row_areas(grid: Grid, rows: np.ndarray) -> np.ndarray:
    """Cell area for each entry of ``rows``; computed once per distinct row since it is constant along a row."""
    if rows.size == 0:
        return np.empty(0)
    first, last = int(rows.min()), int(rows.max())
    distinct = np.arange(first, last + 1)
    north = grid.row_north_lat(distinct)
    areas = cell_area_m2(north - grid.step_lat, north, grid.step_lon)
    return areas[rows - first]


def _empty_tile_frame() -> pd.DataFrame:
    return _tiles_frame(Grid.from_resolution(1.0), "", np.empty(0, dtype=np.int64), RULE_CENTER)
