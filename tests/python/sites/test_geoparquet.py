"""GeoParquet writer: `geo` metadata fields, bbox and WKB round trip, kept columns, determinism, NaN refusal."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shapely

from gatehouse.sites.outputs.geoparquet import write_geoparquet


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "legal_country_iso": ["FR", "FR", "NZ", "US"],
        "site_id": np.array([1, 2, 3, 4], dtype=np.int64),
        "lon_deg": [2.35, -1.5, 174.78, -122.42],
        "lat_deg": [48.86, 43.3, -41.29, 37.77],
    })


def geo_metadata(path) -> dict:
    return json.loads(pq.read_schema(path).metadata[b"geo"])


def test_geo_metadata_fields_and_bbox(tmp_path, frame):
    path = write_geoparquet(frame, tmp_path / "sites.parquet")
    geo = geo_metadata(path)
    assert geo["version"] == "1.1.0"
    assert geo["primary_column"] == "geometry"
    column = geo["columns"]["geometry"]
    assert column["encoding"] == "WKB"
    assert column["geometry_types"] == ["Point"]
    assert "crs" not in column  # absent crs means OGC:CRS84
    assert column["bbox"] == [-122.42, -41.29, 174.78, 48.86]


def test_columns_kept_and_wkb_decodes_to_the_coordinates(tmp_path, frame):
    table = pq.read_table(write_geoparquet(frame, tmp_path / "sites.parquet"))
    assert table.column_names == [*frame.columns, "geometry"]
    pd.testing.assert_frame_equal(table.drop_columns(["geometry"]).to_pandas(), frame)
    points = shapely.from_wkb(table.column("geometry").to_pylist())
    assert shapely.get_type_id(points).tolist() == [0] * 4  # all Points
    assert shapely.get_x(points).tolist() == frame["lon_deg"].tolist()
    assert shapely.get_y(points).tolist() == frame["lat_deg"].tolist()


def test_custom_coordinate_columns(tmp_path):
    frame = pd.DataFrame({"x": [10.0, 11.0], "y": [-1.0, 1.0]})
    path = write_geoparquet(frame, tmp_path / "xy.parquet", lon="x", lat="y")
    assert geo_metadata(path)["columns"]["geometry"]["bbox"] == [10.0, -1.0, 11.0, 1.0]


def test_rewrite_is_byte_identical(tmp_path, frame):
    a = write_geoparquet(frame, tmp_path / "a.parquet")
    b = write_geoparquet(frame.copy(), tmp_path / "b.parquet")
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("column", ["lon_deg", "lat_deg"])
def test_nan_coordinate_is_refused_naming_the_column(tmp_path, frame, column):
    frame.loc[2, column] = np.nan
    with pytest.raises(ValueError, match=column):
        write_geoparquet(frame, tmp_path / "bad.parquet")
    assert not (tmp_path / "bad.parquet").exists()


def test_existing_geometry_column_is_refused(tmp_path, frame):
    with pytest.raises(ValueError, match="geometry"):
        write_geoparquet(frame.assign(geometry=b""), tmp_path / "bad.parquet")
