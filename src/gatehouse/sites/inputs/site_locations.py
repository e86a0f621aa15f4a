"""A site_locations parquet handed to `sites score`, and its optional tiles parquet: the checks they must
pass before they are scored (E320-E326), named by file and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gatehouse.sites.inputs.numbers import outside_whole_range, plain, power_of_two

SITE_LOCATION_COLUMNS = ["merchant_id", "legal_country_iso", "site_order", "lon_deg", "lat_deg"]
WHOLE_NUMBER_RANGES = {"seed": (0, 2**64), "merchant_id": (0, 2**63), "site_order": (1, 2**31)}  # [low, high)


class SiteLocationsInputError(ValueError):
    """A site_locations parquet to score is unusable; the message starts with an E32x code, names the file,
    the column and the problem."""


def validate_site_locations(path: Path, iso_codes: set[str], external_seed: int = 0) -> int:
    """Check a site_locations parquet before it is scored; returns its row count. A null or missing seed
    is `external_seed` (--seed), as the scorecard reads it.

    E320 unreadable / missing column / no rows, E321 duplicate key (seed, merchant_id, legal_country_iso,
    site_order), E322 ISO code outside the ISO 3166 list, E323 null, NaN or out-of-range coordinates,
    E324 fewer than two sites in a seed (no nearest neighbour), E325 seed, merchant_id or site_order not a
    whole number in its range.
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
    for column, (low, high) in WHOLE_NUMBER_RANGES.items():
        if column in frame:
            _require_whole_numbers(path, frame[column], column, low, high, nulls_allowed=column == "seed")
            frame[column] = pd.to_numeric(frame[column])  # the key as the scorecard casts it: '7' is 7
    frame["seed"] = ([external_seed if pd.isna(seed) else int(seed) for seed in frame["seed"]] if "seed" in frame
                     else external_seed)
    key = ["seed", "merchant_id", "legal_country_iso", "site_order"]
    duplicated = frame.duplicated(key)
    if duplicated.any():
        first = {column: plain(value) for column, value in frame.loc[duplicated, key].iloc[0].items()}
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
                                          f"{plain(frame.loc[bad, column].iloc[0])!r}")
    sizes = frame.groupby("seed").size()
    if (sizes < 2).any():
        raise SiteLocationsInputError(f"E324_TOO_FEW_SITES: {path}: seed {sizes.idxmin()} has {sizes.min()} site; "
                                      "nearest-neighbour metrics need at least two")
    return len(frame)


def validate_tiles(path: Path) -> int:
    """E326 unless the --tiles parquet is readable with a non-empty text column country_iso; returns how many
    countries it names (the eligible-country denominator before the populated and denylist filters)."""
    try:
        countries = pd.read_parquet(path, columns=["country_iso"])["country_iso"]
    except Exception as exc:  # not parquet, or no such column
        raise SiteLocationsInputError(f"E326_TILES_SCHEMA: {path}: expected a parquet file with a column country_iso "
                                      f"(ISO2 of each tile's country): {exc}") from exc
    if countries.empty or countries.isna().any() or not countries.map(lambda value: isinstance(value, str)).all():
        raise SiteLocationsInputError(f"E326_TILES_SCHEMA: {path}: column country_iso must hold ISO2 text on "
                                      "every row (and have rows)")
    return countries.nunique()


def _require_whole_numbers(path: Path, values: pd.Series, column: str, low: int, high: int,
                           nulls_allowed: bool) -> None:
    """E325 unless every value of `column` is a whole number in [low, high) (numeric strings count)."""
    bad = outside_whole_range(values, low, high) & (values.notna() if nulls_allowed else True)
    if bad.any():
        raise SiteLocationsInputError(
            f"E325_SITE_LOCATIONS_TYPES: {path}: column {column} has {int(bad.sum())} value(s) that are not whole "
            f"numbers in [{low}, {power_of_two(high)}){' (null takes --seed)' if nulls_allowed else ''}, first "
            f"{plain(values[bad].iloc[0])!r}")
