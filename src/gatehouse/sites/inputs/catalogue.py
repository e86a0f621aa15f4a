"""The 1A outlet catalogue a 1B build places: its schema and the checks a user's catalogue must pass
(E300-E303), named by file and column. The surrogate catalogue (outlets.py) has the same schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gatehouse.runs.errors import missing_file
from gatehouse.sites.inputs.numbers import outside_whole_range, plain

CATALOGUE_COLUMNS = ["merchant_id", "home_country_iso", "legal_country_iso", "site_order"]
# Optional constant columns naming the 1A run the catalogue came from.
UPSTREAM_COLUMNS = {"manifest_fingerprint": "upstream_manifest_fingerprint", "global_seed": "upstream_seed"}


class CatalogueInputError(ValueError):
    """The 1A outlet catalogue is unusable; the message starts with an E3xx code and names the file/column."""


def read_catalogue(path: Path) -> pd.DataFrame:
    """Read a user catalogue parquet and return it validated-ready (E300 if it cannot be read)."""
    if not path.is_file():
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {path}: outlet catalogue {missing_file(path)}")
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
        "merchant_id": _integers(frame["merchant_id"], "merchant_id", source, 0),
        "home_country_iso": frame["home_country_iso"].astype(str),
        "legal_country_iso": frame["legal_country_iso"].astype(str),
        "site_order": _integers(frame["site_order"], "site_order", source, -2**63),  # E301 names values < 1
    })
    _check_iso(typed, iso_codes, source)
    _check_site_order(typed, source)
    for column, target in UPSTREAM_COLUMNS.items():
        typed[target] = _constant_column(frame, column, source)
    return typed.sort_values(["merchant_id", "legal_country_iso", "site_order"], kind="stable").reset_index(drop=True)


def _integers(values: pd.Series, column: str, source: str, low: int) -> pd.Series:
    """The column as int64, or E300 naming the first value that is not a whole number in [low, 2^63)."""
    bad = outside_whole_range(values, low, 2**63)
    if bad.any():
        raise CatalogueInputError(f"E300_CATALOGUE_SCHEMA: {source}: column {column} must hold integers in "
                                  f"[{'0' if low == 0 else '-2^63'}, 2^63); {int(bad.sum())} value(s) do not, first "
                                  f"{plain(values[bad].iloc[0])!r}")
    return pd.to_numeric(values).astype("int64")


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


def untiled_countries(catalogue_countries: set[str], tiled_policy_countries: list[str],
                      polygon_countries: set[str]) -> list[str]:
    """Countries with sites but no tile (E303): no polygon, or left out by the tiles policy.

    Exact, not a guess: S1 gives every selected polygon at least one tile (representative point).
    """
    tiled = polygon_countries & set(tiled_policy_countries) if tiled_policy_countries else polygon_countries
    return sorted(catalogue_countries - tiled)
