"""Site maps: file names and order, valid fixed-size PNGs, byte determinism, and the view bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from shapely.geometry import MultiPolygon, box

from gatehouse.sites.outputs.maps import (
    country_view_bounds,
    crosses_antimeridian,
    exterior_ring_lines,
    top_countries,
    write_site_maps,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A country made of two boxes on either side of the antimeridian, like Fiji.
ANTIMERIDIAN_COUNTRY = MultiPolygon([box(177.0, -19.0, 180.0, -16.0), box(-180.0, -19.0, -178.0, -16.0)])
COUNTRIES = {
    "AA": box(0.0, 0.0, 10.0, 10.0),
    "BB": box(20.0, -5.0, 30.0, 5.0),
    "CC": box(-60.0, 40.0, -50.0, 45.0),
    "FJ": ANTIMERIDIAN_COUNTRY,
}


def uniform_sites(iso: str, bounds, n: int, gen: np.random.Generator) -> pd.DataFrame:
    min_lon, min_lat, max_lon, max_lat = bounds
    return pd.DataFrame({
        "legal_country_iso": iso,
        "lon_deg": gen.uniform(min_lon, max_lon, n),
        "lat_deg": gen.uniform(min_lat, max_lat, n),
        "site_id": np.arange(n),  # extra columns are ignored
    })


@pytest.fixture
def sites() -> pd.DataFrame:
    gen = np.random.default_rng(0)
    counts = {"AA": 50, "BB": 300, "CC": 120, "FJ": 10}
    return pd.concat(
        [uniform_sites(iso, COUNTRIES[iso].bounds, n, gen) for iso, n in counts.items()], ignore_index=True
    )


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    # IHDR is the first chunk: width and height are big-endian uint32 at bytes 16..24
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_world_then_top_countries_by_site_count(tmp_path, sites):
    paths = write_site_maps(sites, COUNTRIES, tmp_path, seed=7)
    assert [p.name for p in paths] == [
        "map_seed7_world.png", "map_seed7_BB.png", "map_seed7_CC.png", "map_seed7_AA.png",
    ]
    assert all(p.parent == tmp_path for p in paths)
    assert png_size(paths[0]) == (1320, 715)  # 12 x 6.5 in at 110 dpi
    assert {png_size(p) for p in paths[1:]} == {(770, 770)}  # 7 x 7 in at 110 dpi


def test_n_countries_controls_the_number_of_maps(tmp_path, sites):
    assert len(write_site_maps(sites, COUNTRIES, tmp_path, seed=1, n_countries=1)) == 2
    assert len(write_site_maps(sites, COUNTRIES, tmp_path, seed=1, n_countries=0)) == 1
    assert len(write_site_maps(sites, COUNTRIES, tmp_path, seed=1, n_countries=10)) == 5


def test_two_calls_write_identical_bytes(tmp_path, sites):
    first = write_site_maps(sites, COUNTRIES, tmp_path / "a", seed=3)
    second = write_site_maps(sites, COUNTRIES, tmp_path / "b", seed=3)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert all(b"matplotlib" not in p.read_bytes() for p in first)  # no Software tag


def test_different_seed_title_changes_the_image(tmp_path, sites):
    a = write_site_maps(sites, COUNTRIES, tmp_path, seed=1, n_countries=0)[0]
    b = write_site_maps(sites, COUNTRIES, tmp_path, seed=2, n_countries=0)[0]
    assert a.read_bytes() != b.read_bytes()


def test_top_countries_break_ties_alphabetically():
    sites = pd.DataFrame({"legal_country_iso": ["ZZ", "ZZ", "MM", "AA", "MM", "BB"]})
    assert top_countries(sites, 3) == ["MM", "ZZ", "AA"]


def test_view_bounds_use_polygon_unless_it_crosses_the_antimeridian(sites):
    assert country_view_bounds(COUNTRIES["AA"], sites[sites.legal_country_iso == "AA"]) == (0.0, 0.0, 10.0, 10.0)
    assert not crosses_antimeridian(COUNTRIES["AA"])
    assert crosses_antimeridian(ANTIMERIDIAN_COUNTRY)
    fiji_sites = pd.DataFrame({"lon_deg": [178.0, 179.5], "lat_deg": [-18.0, -17.0]})
    assert country_view_bounds(ANTIMERIDIAN_COUNTRY, fiji_sites) == (178.0, -18.0, 179.5, -17.0)
    assert country_view_bounds(None, fiji_sites) == (178.0, -18.0, 179.5, -17.0)


def test_exterior_rings_of_polygons_and_multipolygon_parts():
    rings = exterior_ring_lines([COUNTRIES["AA"], ANTIMERIDIAN_COUNTRY, None])
    assert len(rings) == 3
    assert all(ring.shape == (5, 2) for ring in rings)  # closed boxes
    assert rings[0].min(axis=0).tolist() == [0.0, 0.0] and rings[0].max(axis=0).tolist() == [10.0, 10.0]
