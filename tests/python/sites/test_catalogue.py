"""The 1A outlet catalogue checks (E300-E303), on tiny hand-made catalogues."""

from __future__ import annotations

import pandas as pd
import pytest

from gatehouse.sites.inputs.catalogue import CatalogueInputError, read_catalogue, untiled_countries, validate_catalogue

ISO = {"DE", "FR", "LU", "RE"}


def catalogue(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["merchant_id", "home_country_iso", "legal_country_iso", "site_order"])


GOOD = [(1, "DE", "DE", 1), (1, "DE", "DE", 2), (1, "DE", "FR", 1), (2, "LU", "LU", 1)]


def test_valid_catalogue_is_typed_and_sorted():
    out = validate_catalogue(catalogue(GOOD[::-1]), ISO, "t.parquet")
    assert list(out[["merchant_id", "legal_country_iso", "site_order"]].itertuples(index=False, name=None)) == [
        (1, "DE", 1), (1, "DE", 2), (1, "FR", 1), (2, "LU", 1)]
    assert out["merchant_id"].dtype == "int64" and out["upstream_manifest_fingerprint"].isna().all()


def test_upstream_lineage_columns_are_carried_when_constant():
    frame = catalogue(GOOD).assign(manifest_fingerprint="ab" * 32, global_seed=7)
    out = validate_catalogue(frame, ISO, "t.parquet")
    assert set(out["upstream_manifest_fingerprint"]) == {"ab" * 32} and set(out["upstream_seed"]) == {"7"}
    with pytest.raises(CatalogueInputError, match="E300.*manifest_fingerprint must be constant"):
        validate_catalogue(frame.assign(manifest_fingerprint=["a", "b", "a", "a"]), ISO, "t.parquet")


@pytest.mark.parametrize("rows, pattern", [
    (GOOD + [(3, "ZZ", "ZZ", 1)], r"E302_UNKNOWN_ISO: t.parquet: column legal_country_iso .*\['ZZ'\]"),
    (GOOD + [(3, "XX", "DE", 1)], r"E302_UNKNOWN_ISO: t.parquet: column home_country_iso .*\['XX'\]"),
    (GOOD + [(3, "DE", "DE", 1), (3, "DE", "DE", 3)], r"E301_SITE_ORDER: .*gaps.*merchant_id=3"),
    (GOOD + [(3, "DE", "DE", 1), (3, "DE", "DE", 1)], r"E301_SITE_ORDER: .*duplicates.*merchant_id=3"),
    (GOOD + [(3, "DE", "DE", 2)], r"E301_SITE_ORDER: .*do not start at 1"),
    (GOOD + [(3, "DE", "DE", -1)], r"E301_SITE_ORDER: .*< 1 \(zero or negative counts\)"),
])
def test_bad_catalogues_are_named(rows, pattern):
    with pytest.raises(CatalogueInputError, match=pattern):
        validate_catalogue(catalogue(rows), ISO, "t.parquet")


def test_schema_errors_name_the_column():
    missing = r"E300_CATALOGUE_SCHEMA: t.parquet: missing columns \['site_order'\]"
    with pytest.raises(CatalogueInputError, match=missing):
        validate_catalogue(catalogue(GOOD).drop(columns="site_order"), ISO, "t.parquet")
    with pytest.raises(CatalogueInputError, match="E300.*column merchant_id has 1 null"):
        validate_catalogue(catalogue(GOOD).astype({"merchant_id": "object"}).assign(
            merchant_id=[1, None, 1, 2]), ISO, "t.parquet")
    with pytest.raises(CatalogueInputError, match="E300.*site_order must hold integers"):
        validate_catalogue(catalogue(GOOD).assign(site_order=[1, 2.5, 1, 1]), ISO, "t.parquet")


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(CatalogueInputError, match="E300.*bad.parquet: not a readable parquet"):
        read_catalogue(path)
    with pytest.raises(CatalogueInputError, match="E300.*not found"):
        read_catalogue(tmp_path / "absent.parquet")


def test_untiled_countries_follow_polygons_and_the_tiles_policy():
    polygons = {"DE", "FR", "LU"}
    assert untiled_countries({"DE", "RE"}, [], polygons) == ["RE"]  # no polygon
    assert untiled_countries({"DE", "FR"}, ["DE"], polygons) == ["FR"]  # not selected for tiling
    assert untiled_countries({"DE"}, ["DE", "FR"], polygons) == []
