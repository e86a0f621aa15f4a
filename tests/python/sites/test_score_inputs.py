"""`gatehouse sites score` refuses a site_locations file it cannot grade honestly: named error (E32x, the
file, the column), exit 2, nothing published. Each case would otherwise score (or fail) silently."""

import pandas as pd
import pytest

from gatehouse import cli
from gatehouse.runs import EXIT_FAILED

GOOD = {"merchant_id": [1, 1, 2], "legal_country_iso": ["DE", "DE", "FR"], "site_order": [1, 2, 1],
        "lon_deg": [13.4, 13.5, 2.35], "lat_deg": [52.5, 52.6, 48.85]}


def with_change(**columns):
    return pd.DataFrame({**GOOD, **columns})


CASES = [
    ("duplicate_key", with_change(site_order=[1, 1, 1]), "E321_SITE_LOCATIONS_KEY", "site_order"),
    ("unknown_iso", with_change(legal_country_iso=["DE", "ZZ", "FR"]), "E322_UNKNOWN_ISO", "legal_country_iso"),
    ("latitude_95", with_change(lat_deg=[52.5, 95.0, 48.85]), "E323_COORDINATES", "lat_deg"),
    ("longitude_200", with_change(lon_deg=[13.4, 200.0, 2.35]), "E323_COORDINATES", "lon_deg"),
    ("nan_latitude", with_change(lat_deg=[52.5, float("nan"), 48.85]), "E323_COORDINATES", "lat_deg"),
    ("missing_lat", pd.DataFrame(GOOD).drop(columns="lat_deg"), "E320_SITE_LOCATIONS_SCHEMA", "lat_deg"),
    ("zero_rows", pd.DataFrame(GOOD).iloc[:0], "E320_SITE_LOCATIONS_SCHEMA", "no rows"),
    ("one_site", pd.DataFrame(GOOD).iloc[:1], "E324_TOO_FEW_SITES", "at least two"),
    ("one_site_in_a_seed", pd.DataFrame(GOOD).assign(seed=[1, 1, 2]), "E324_TOO_FEW_SITES", "seed 2"),
    # a null seed is --seed (0 here), as the scorecard reads it: the key (0, 1, DE, 1) repeats
    ("null_seed_repeats_a_key", with_change(site_order=[1, 1, 1]).assign(seed=pd.array([None, 0, 0], "Int64")),
     "E321_SITE_LOCATIONS_KEY", "seed"),
    ("negative_seed", pd.DataFrame(GOOD).assign(seed=[-1, -1, -1]), "E325_SITE_LOCATIONS_TYPES", "seed"),
    ("text_seed", pd.DataFrame(GOOD).assign(seed=["abc", "abc", "abc"]), "E325_SITE_LOCATIONS_TYPES", "seed"),
    ("text_merchant_id", with_change(merchant_id=["1", "abc", "2"]), "E325_SITE_LOCATIONS_TYPES", "merchant_id"),
    ("merchant_id_beyond_int64", with_change(merchant_id=[1.0, 1e20, 2.0]), "E325_SITE_LOCATIONS_TYPES",
     "merchant_id"),
    ("fractional_site_order", with_change(site_order=[1.0, 1.4, 1.0]), "E325_SITE_LOCATIONS_TYPES", "site_order"),
]


@pytest.mark.parametrize("case, frame, code, names", CASES, ids=[case[0] for case in CASES])
def test_bad_site_locations_are_refused(tmp_path, capsys, case, frame, code, names):
    path = tmp_path / f"{case}.parquet"
    frame.to_parquet(path)
    exit_code = cli.main(["sites", "score", "--site-locations", str(path), "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and code in error and path.name in error and names in error
    assert not (tmp_path / "runs").exists()


def test_a_csv_named_parquet_is_refused(tmp_path, capsys):
    path = tmp_path / "sites.parquet"
    pd.DataFrame(GOOD).to_csv(path)
    exit_code = cli.main(["sites", "score", "--site-locations", str(path), "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and "E320_SITE_LOCATIONS_SCHEMA" in error and "not a readable parquet" in error


def test_numeric_text_keys_are_the_numbers_they_read_as(tmp_path):
    from gatehouse.sites.inputs.site_locations import validate_site_locations

    path = tmp_path / "sites.parquet"
    with_change(merchant_id=["1", "1", "2"], site_order=["1", "2", "1"]).to_parquet(path)
    assert validate_site_locations(path, {"DE", "FR"}) == 3


def test_a_seed_out_of_range_is_refused_before_reading(tmp_path, capsys):
    path = tmp_path / "sites.parquet"
    pd.DataFrame(GOOD).to_parquet(path)
    exit_code = cli.main(["sites", "score", "--site-locations", str(path), "--seed", "-3",
                          "--runs-dir", str(tmp_path / "runs")])
    assert exit_code == EXIT_FAILED and "--seed must be in [0, 2^64), got -3" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("tiles", [pd.DataFrame({"iso": ["DE"]}), pd.DataFrame({"country_iso": [None, "DE"]}),
                                   pd.DataFrame({"country_iso": pd.Series([], dtype=object)})],
                         ids=["no_country_iso", "null_country_iso", "no_rows"])
def test_a_tiles_file_without_countries_is_refused(tmp_path, capsys, tiles):
    sites, tiles_path = tmp_path / "sites.parquet", tmp_path / "tiles.parquet"
    pd.DataFrame(GOOD).to_parquet(sites)
    tiles.to_parquet(tiles_path)
    exit_code = cli.main(["sites", "score", "--site-locations", str(sites), "--tiles", str(tiles_path),
                          "--runs-dir", str(tmp_path / "runs")])
    error = capsys.readouterr().err
    assert exit_code == EXIT_FAILED and "E326_TILES_SCHEMA" in error and "tiles.parquet" in error
    assert "country_iso" in error and not (tmp_path / "runs").exists()
