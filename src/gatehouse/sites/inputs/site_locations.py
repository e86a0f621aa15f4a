"""A site_locations parquet handed to `sites score`: the checks it must pass before it is scored
(E320-E324), named by file and column."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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
