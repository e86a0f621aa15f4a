"""Write site frames as GeoParquet 1.1.0 point files with pyarrow and shapely only (no geopandas).

Every column of the frame is kept and a `geometry` column of little-endian ISO WKB points is
appended. The `geo` schema metadata carries no `crs`, which GeoParquet defines as OGC:CRS84
(lon/lat on WGS 84). The same frame always gives the same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

GEOPARQUET_VERSION = "1.1.0"
GEOMETRY_COLUMN = "geometry"


def write_geoparquet(frame: pd.DataFrame, path: Path, lon: str = "lon_deg", lat: str = "lat_deg") -> Path:
    """Write `frame` plus a WKB point `geometry` column built from its `lon`/`lat` columns to `path`."""
    if GEOMETRY_COLUMN in frame.columns:
        raise ValueError(f"frame already has a {GEOMETRY_COLUMN!r} column")
    x, y = finite_coordinates(frame, lon), finite_coordinates(frame, lat)
    wkb = shapely.to_wkb(shapely.points(x, y), byte_order=1, flavor="iso")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.append_column(GEOMETRY_COLUMN, pa.array(wkb, type=pa.binary()))
    metadata = {**(table.schema.metadata or {}), b"geo": json.dumps(geo_metadata(x, y)).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), path)
    return Path(path)


def finite_coordinates(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The column as float64, refusing NaN (and infinite) values."""
    values = frame[column].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(f"column {column!r} has {bad} NaN or infinite value(s); cannot build point geometries")
    return values


def geo_metadata(x: np.ndarray, y: np.ndarray) -> dict:
    """GeoParquet `geo` metadata for a point column; bbox is omitted (it is optional) when there are no rows."""
    column = {"encoding": "WKB", "geometry_types": ["Point"]}
    if len(x):
        column["bbox"] = [float(x.min()), float(y.min()), float(x.max()), float(y.max())]
    return {"version": GEOPARQUET_VERSION, "primary_column": GEOMETRY_COLUMN, "columns": {GEOMETRY_COLUMN: column}}
