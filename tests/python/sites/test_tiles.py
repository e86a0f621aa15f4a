import math

import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import integrate

from gatehouse.sites.inputs import geodata

from gatehouse.sites.kernels import tiles
from gatehouse.sites.kernels.tiles import WGS84_A, WGS84_F, Grid, build_tile_index, cell_area_m2

WGS84_SURFACE_M2 = 5.10065621724e14


@pytest.fixture(scope="module")
def countries():
    return geodata.load_countries()


@pytest.fixture(scope="module")
def world_quarter_degree(countries):
    return build_tile_index(countries, 0.25)


def toy_countries(**geometries) -> pd.DataFrame:
    return pd.DataFrame({"country_iso": list(geometries), "geometry": list(geometries.values())})


# ----------------------------------------------------------------------------- grid


@pytest.mark.parametrize(("res", "ncols", "nrows"), [(1.0, 360, 180), (0.25, 1440, 720), (0.1, 3600, 1800),
                                                      (1 / 120, 43200, 21600)])
def test_grid_dimensions(res, ncols, nrows):
    grid = Grid.from_resolution(res)
    assert (grid.ncols, grid.nrows) == (ncols, nrows)


@pytest.mark.parametrize("res", [0.7, 0.0, -1.0, float("nan"), 200.0])
def test_grid_rejects_resolutions_that_do_not_tile_the_globe(res):
    with pytest.raises(ValueError, match="resolution"):
        Grid.from_resolution(res)


def test_cell_of_corners_edges_and_wrap():
    grid = Grid.from_resolution(0.25)
    rows, cols = grid.cell_of([-180.0, 179.99, 180.0, 0.0, 0.1], [90.0, -90.0, 0.1, 0.0, -0.1])
    # Row 0 is the northernmost; a point on an interior edge belongs to the cell east/south of it.
    assert rows.tolist() == [0, 719, 359, 360, 360]
    assert cols.tolist() == [0, 1439, 0, 720, 720]
    assert grid.tile_id(rows, cols).tolist() == [0, 719 * 1440 + 1439, 359 * 1440, 360 * 1440 + 720,
                                                 360 * 1440 + 720]


def test_tile_ids_of_points_matches_grid():
    assert tiles.tile_ids_of_points([2.35], [48.86], 1.0).tolist() == [41 * 360 + 182]


# ----------------------------------------------------------------------------- area


def numeric_cell_area(south, north, width_deg):
    e2 = WGS84_F * (2 - WGS84_F)

    def surface_element(phi):
        return WGS84_A**2 * (1 - e2) * math.cos(phi) / (1 - e2 * math.sin(phi) ** 2) ** 2

    value, _ = integrate.quad(surface_element, math.radians(south), math.radians(north), epsabs=0, epsrel=1e-13)
    return value * math.radians(width_deg)


@pytest.mark.parametrize(("south", "north", "width"), [(0.0, 1.0, 1.0), (59.75, 60.0, 0.25),
                                                        (-1 / 120, 0.0, 1 / 120), (89.0, 90.0, 1.0)])
def test_closed_form_area_matches_numeric_integration(south, north, width):
    assert cell_area_m2(south, north, width) == pytest.approx(numeric_cell_area(south, north, width), rel=1e-10)


def test_one_degree_cell_at_the_equator():
    assert cell_area_m2(0.0, 1.0, 1.0) == pytest.approx(1.2308e10, rel=1e-4)


def test_global_one_degree_grid_sums_to_the_ellipsoid_surface():
    grid = Grid.from_resolution(1.0)
    north = grid.row_north_lat(np.arange(grid.nrows))
    total = cell_area_m2(north - 1.0, north, 1.0).sum() * grid.ncols
    assert total == pytest.approx(WGS84_SURFACE_M2, rel=1e-9)
    assert tiles.ellipsoid_area_m2() == pytest.approx(WGS84_SURFACE_M2, rel=1e-9)


def test_ellipsoid_area_agrees_with_the_textbook_formula():
    e = math.sqrt(WGS84_F * (2 - WGS84_F))
    textbook = 2 * math.pi * WGS84_A**2 * (1 + (1 - e * e) / e * math.atanh(e))
    assert tiles.ellipsoid_area_m2() == pytest.approx(textbook, rel=1e-12)


# ----------------------------------------------------------------------------- predicate on toy shapes


def test_unit_square_holds_sixteen_quarter_degree_centres():
    index = build_tile_index(toy_countries(AA=shapely.box(0, 0, 1, 1)), 0.25)
    assert len(index) == 16
    assert set(index["inclusion_rule"]) == {"center"}
    assert sorted(set(index["centroid_lon"])) == [0.125, 0.375, 0.625, 0.875]


def test_centres_on_the_boundary_are_included():
    index = build_tile_index(toy_countries(AA=shapely.box(0.125, 0.125, 0.375, 0.375)), 0.25)
    assert len(index) == 4


def test_centres_inside_a_hole_are_excluded():
    ring = shapely.box(0, 0, 1, 1).difference(shapely.box(0.26, 0.26, 0.74, 0.74))
    index = build_tile_index(toy_countries(AA=ring), 0.25)
    assert len(index) == 12
    assert not ((index["centroid_lon"] == 0.375) & (index["centroid_lat"] == 0.375)).any()


def test_polygon_split_at_the_antimeridian_gets_tiles_on_both_edges():
    split = shapely.MultiPolygon([shapely.box(179, 0, 180, 1), shapely.box(-180, 0, -179, 1)])
    index = build_tile_index(toy_countries(AA=split), 0.5)
    assert sorted(set(index["raster_col"])) == [0, 1, 718, 719]
    assert len(index) == 8


def test_too_small_country_gets_the_tile_of_its_representative_point():
    speck = shapely.box(10.01, 20.01, 10.02, 20.02)
    index = build_tile_index(toy_countries(AA=speck), 0.25)
    assert len(index) == 1
    row = index.iloc[0]
    assert row["inclusion_rule"] == "representative_point"
    assert (row["min_lon"], row["min_lat"]) == (10.0, 20.0)
    assert tiles.countries_using_fallback(index) == ["AA"]


def test_columns_dtypes_and_cell_geometry():
    index = build_tile_index(toy_countries(BB=shapely.box(-3, -3, 3, 3), AA=shapely.box(0, 0, 1, 1)), 0.5)
    assert list(index.columns) == tiles.TILE_COLUMNS
    assert index["tile_id"].dtype == np.int64
    assert index[["country_iso", "tile_id"]].apply(tuple, axis=1).is_monotonic_increasing
    assert (index["tile_id"] == index["raster_row"].astype("int64") * 720 + index["raster_col"]).all()
    assert np.allclose(index["max_lon"] - index["min_lon"], 0.5)
    assert np.allclose(index["max_lat"] - index["min_lat"], 0.5)
    assert np.allclose(index["centroid_lon"], (index["min_lon"] + index["max_lon"]) / 2)
    assert np.allclose(index["area_m2"], cell_area_m2(index["min_lat"], index["max_lat"], 0.5))


def test_unknown_country_in_only_is_an_error(countries):
    with pytest.raises(ValueError, match="ZZ"):
        build_tile_index(countries, 1.0, only=["FR", "ZZ"])


# ----------------------------------------------------------------------------- real countries


def test_every_country_has_tiles_and_tiny_ones_use_the_fallback(countries, world_quarter_degree):
    assert tiles.countries_without_tiles(countries, world_quarter_degree) == []
    fallback = tiles.countries_using_fallback(world_quarter_degree)
    assert {"MC", "VA"} <= set(fallback)
    assert not {"FR", "BR", "US"} & set(fallback)
    assert world_quarter_degree.groupby("country_iso").size()[fallback].eq(1).all()


def test_france_has_tiles_around_paris(world_quarter_degree):
    france = world_quarter_degree[world_quarter_degree["country_iso"] == "FR"]
    assert len(france) > 1000
    paris = tiles.tile_ids_of_points([2.35], [48.86], 0.25)[0]
    assert paris in set(france["tile_id"])


def test_sampled_centres_lie_in_their_country(countries, world_quarter_degree):
    geometry = countries.set_index("country_iso")["geometry"]
    sample = world_quarter_degree[world_quarter_degree["inclusion_rule"] == "center"].sample(2000, random_state=7)
    inside = [
        shapely.intersects_xy(geometry[iso], lon, lat)
        for iso, lon, lat in zip(sample["country_iso"], sample["centroid_lon"], sample["centroid_lat"])
    ]
    assert all(inside)


def test_russia_and_fiji_have_tiles_on_both_sides_of_the_antimeridian(countries):
    index = build_tile_index(countries, 0.1, only=["FJ", "RU"])
    for iso in ("FJ", "RU"):
        lons = index.loc[index["country_iso"] == iso, "centroid_lon"]
        assert (lons < -179).any() and (lons > 179).any(), iso


def test_build_is_deterministic_and_independent_of_input_order(countries, world_quarter_degree):
    shuffled = countries.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = build_tile_index(shuffled, 0.25)
    pd.testing.assert_frame_equal(again, world_quarter_degree)


def test_country_area_is_close_to_its_polygon_area(countries):
    # Metropolitan France (with Corsica) covers 551,695 km² (INSEE); the 0.1° centre rule should get close.
    france_box = shapely.box(-5.5, 41.0, 10.0, 51.5)
    mainland = countries.set_index("country_iso")["geometry"]["FR"].intersection(france_box)
    index = build_tile_index(toy_countries(FR=mainland), 0.1)
    assert index["area_m2"].sum() / 1e6 == pytest.approx(551_695, rel=0.03)
