import copy
import hashlib
import io

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gatehouse.sites import outlets
from gatehouse.sites.outlet_metrics import (
    band_passes,
    identity_anomalies,
    load_bands,
    outlet_catalogue_metrics,
    site_country_grade,
    site_country_metrics,
)
from gatehouse.sites.outlets import (
    PolicyError,
    generate_outlet_catalogue,
    gravity_matrix,
    home_country_shares,
    load_outlet_policy,
    simulate_outlets,
    southern_population_share,
    validate_outlet_policy,
)

SEEDS = (42, 7, 101, 202)


def square(lon, lat, half=1.0):
    return box(lon - half, lat - half, lon + half, lat + half)


def tiny_countries():
    """Six countries; CC, EE and FF lie south of the equator."""
    rows = [
        ("AA", "Europe", 80e6, 4000e3, square(10, 50)),
        ("BB", "Europe", 10e6, 500e3, square(14, 52)),
        ("CC", "Africa", 50e6, 400e3, square(20, -10)),
        ("DD", "Asia", 300e6, 3000e3, square(100, 20)),
        ("EE", "South America", 40e6, 600e3, square(-60, -30)),
        ("FF", "Oceania", 0.1e6, 1e3, square(170, -15)),
    ]
    return pd.DataFrame(
        [
            {"country_iso": iso, "iso3": iso + "X", "name": iso, "region_un": region, "subregion": region,
             "macro_region": region, "pop_est": pop, "gdp_md": gdp, "geometry": geometry}
            for iso, region, pop, gdp, geometry in rows
        ]
    )


@pytest.fixture
def policy():
    small = copy.deepcopy(load_outlet_policy())
    small["merchants"]["count"] = 300
    small["home_country_mix"]["country_cap_share"] = 0.5
    small["home_country_mix"]["region_floors"] = {}
    return small


def with_mix(policy, **changes):
    changed = copy.deepcopy(policy)
    changed["home_country_mix"].update(changes)
    return changed


def parquet_sha256(frame):
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False, compression="zstd")
    return hashlib.sha256(buffer.getvalue()).hexdigest()


# ----------------------------------------------------------------------------- policy validation


def test_shipped_policies_validate():
    assert load_outlet_policy()["policy_version"]
    assert load_outlet_policy(outlets.ORIGIN_LIKE_POLICY_PATH)["policy_version"]


def test_validation_names_the_missing_key(policy):
    del policy["outlets_per_merchant"]["nb_dispersion_log_sd"]
    with pytest.raises(PolicyError, match=r"^outlets_per_merchant\.nb_dispersion_log_sd: required key is missing"):
        validate_outlet_policy(policy)


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("merchants", "count", 0, r"merchants\.count: must be >= 1"),
        ("merchants", "count", 10.5, r"merchants\.count: expected an integer"),
        ("outlets_per_merchant", "single_site_share", "a lot", r"outlets_per_merchant\.single_site_share: expected a number"),
        ("outlets_per_merchant", "single_site_share", 1.5, r"single_site_share: must be <= 1"),
        ("home_country_mix", "country_cap_share", -0.1, r"home_country_mix\.country_cap_share: must be >= 0"),
        ("home_country_mix", "region_floors", {"Atlantis": 0.1}, r"region_floors\.Atlantis: unknown macro region"),
        ("home_country_mix", "blend", {"population": 0.5, "gdp": 0.5, "uniform": 0.5}, r"blend: .* must sum to 1"),
    ],
)
def test_validation_rejects_bad_values_naming_the_key(policy, section, key, value, message):
    policy[section][key] = value
    with pytest.raises(PolicyError, match=message):
        validate_outlet_policy(policy)


def test_validation_requires_policy_version(policy):
    del policy["policy_version"]
    with pytest.raises(PolicyError, match="^policy_version"):
        validate_outlet_policy(policy)


def test_multi_country_share_cannot_exceed_multi_site_share(policy):
    policy["outlets_per_merchant"]["single_site_share"] = 0.8
    policy["multi_country"]["share_of_merchants"] = 0.3
    with pytest.raises(PolicyError, match=r"^multi_country\.share_of_merchants"):
        validate_outlet_policy(policy)


# ----------------------------------------------------------------------------- southern share


def test_southern_population_share_weights_by_population_and_falls_back_to_the_representative_point():
    places = pd.DataFrame(
        {
            "country_iso": ["AA", "CC", "CC", "DD"],
            "lat_deg": [50.0, -5.0, 2.0, 20.0],
            "lon_deg": [10.0, 20.0, 20.0, 100.0],
            "population": [100, 300, 100, 1000],
        }
    )
    share = southern_population_share(places, tiny_countries())
    assert share.to_dict() == {"AA": 0.0, "BB": 0.0, "CC": 0.75, "DD": 0.0, "EE": 1.0, "FF": 1.0}
    assert southern_population_share(places).to_dict() == {"AA": 0.0, "CC": 0.75, "DD": 0.0}


# ----------------------------------------------------------------------------- home-country shares


def test_uniform_blend_gives_equal_shares(policy):
    uniform = with_mix(policy, blend={"population": 0.0, "gdp": 0.0, "uniform": 1.0}, southern_boost=0.0)
    shares = home_country_shares(tiny_countries(), uniform)
    assert shares.to_numpy() == pytest.approx(np.full(6, 1 / 6))
    assert list(shares.index) == ["AA", "BB", "CC", "DD", "EE", "FF"]


def test_population_exponent_one_gives_population_proportional_shares(policy):
    by_population = with_mix(
        policy, blend={"population": 1.0, "gdp": 0.0, "uniform": 0.0}, population_exponent=1.0, southern_boost=0.0,
        country_cap_share=1.0,
    )
    countries = tiny_countries()
    shares = home_country_shares(countries, by_population)
    assert shares.to_numpy() == pytest.approx((countries["pop_est"] / countries["pop_est"].sum()).to_numpy())


def test_southern_boost_multiplies_by_one_plus_boost_times_southern_share(policy):
    boosted = with_mix(policy, blend={"population": 0.0, "gdp": 0.0, "uniform": 1.0}, southern_boost=1.0)
    southern = pd.Series({"CC": 1.0, "EE": 0.5})  # others count as fully northern
    shares = home_country_shares(tiny_countries(), boosted, southern)
    assert shares["CC"] == pytest.approx(2 / 7.5)
    assert shares["EE"] == pytest.approx(1.5 / 7.5)
    assert shares["AA"] == pytest.approx(1 / 7.5)


def test_region_floor_lifts_the_region_and_cap_clips_every_country(policy):
    floored = with_mix(
        policy, blend={"population": 1.0, "gdp": 0.0, "uniform": 0.0}, population_exponent=1.0, southern_boost=0.0,
        region_floors={"Oceania": 0.2}, country_cap_share=0.35,
    )
    shares = home_country_shares(tiny_countries(), floored)
    assert shares.sum() == pytest.approx(1.0)
    assert shares.max() <= 0.35 + 1e-12
    assert shares["FF"] >= 0.2 - 1e-12


def test_excluded_countries_get_no_merchants(policy):
    shares = home_country_shares(tiny_countries(), with_mix(policy, excluded_countries=["AA", "DD"]))
    assert shares["AA"] == shares["DD"] == 0.0
    assert shares.sum() == pytest.approx(1.0)


def test_infeasible_cap_is_an_error(policy):
    with pytest.raises(ValueError, match="country_cap_share"):
        home_country_shares(tiny_countries(), with_mix(policy, country_cap_share=0.1))


def test_gravity_rows_are_distributions_that_prefer_near_destinations():
    lon, lat = outlets.representative_points(tiny_countries())
    gravity = gravity_matrix(
        np.ones(6), outlets.great_circle_km(lon, lat),
        {"size_exponent": 1.0, "distance_exponent": 1.0, "distance_floor_km": 100.0},
    )
    assert np.diag(gravity) == pytest.approx(np.zeros(6))
    assert gravity.sum(axis=1) == pytest.approx(np.ones(6))
    assert gravity[0, 1] > gravity[0, 4]  # from AA: BB (next door) beats EE (South America)


# ----------------------------------------------------------------------------- generator


def test_catalogue_columns_dtypes_sort_and_site_order(policy):
    catalogue = generate_outlet_catalogue(tiny_countries(), policy, seed=42)
    assert list(catalogue.columns) == ["merchant_id", "home_country_iso", "legal_country_iso", "site_order"]
    assert catalogue["merchant_id"].dtype == np.int64
    assert catalogue["site_order"].dtype == np.int32
    keys = catalogue[["merchant_id", "legal_country_iso", "site_order"]]
    assert keys.equals(keys.sort_values(list(keys.columns)).reset_index(drop=True))
    assert identity_anomalies(catalogue) == []
    assert set(catalogue["merchant_id"]) == set(range(1, 301))


def test_companion_frame_matches_the_catalogue(policy):
    simulation = simulate_outlets(tiny_countries(), policy, seed=7)
    merchants = simulation.merchants.set_index("merchant_id")
    grouped = simulation.catalogue.groupby("merchant_id")
    assert (grouped.size() == merchants["n_outlets"]).all()
    assert (grouped["legal_country_iso"].nunique() == merchants["n_legal_countries"]).all()
    assert (grouped["home_country_iso"].first() == merchants["home_country_iso"]).all()
    assert (merchants["phi"] > 0).all()


def test_every_merchant_keeps_an_outlet_in_its_home_country(policy):
    catalogue = generate_outlet_catalogue(tiny_countries(), policy, seed=101)
    at_home = catalogue[catalogue["legal_country_iso"] == catalogue["home_country_iso"]]
    assert set(at_home["merchant_id"]) == set(catalogue["merchant_id"])


def test_same_seed_gives_byte_identical_output(policy):
    first = generate_outlet_catalogue(tiny_countries(), policy, seed=42)
    second = generate_outlet_catalogue(tiny_countries(), policy, seed=42)
    other = generate_outlet_catalogue(tiny_countries(), policy, seed=43)
    assert parquet_sha256(first) == parquet_sha256(second)
    assert parquet_sha256(first) != parquet_sha256(other)


def test_input_row_order_does_not_matter(policy):
    shuffled = tiny_countries().sample(frac=1.0, random_state=3)
    assert generate_outlet_catalogue(shuffled, policy, seed=42).equals(
        generate_outlet_catalogue(tiny_countries(), policy, seed=42)
    )


def test_all_single_site_policy_gives_one_outlet_per_merchant_at_home(policy):
    policy["outlets_per_merchant"]["single_site_share"] = 1.0
    policy["multi_country"]["share_of_merchants"] = 0.0
    metrics = outlet_catalogue_metrics(generate_outlet_catalogue(tiny_countries(), policy, seed=42))
    assert metrics["outlet_count"] == 300
    assert metrics["single_site_share"] == 1.0
    assert metrics["home_legal_mismatch_rate"] == 0.0


def test_zero_multi_country_share_means_no_mismatch(policy):
    policy["multi_country"]["share_of_merchants"] = 0.0
    metrics = outlet_catalogue_metrics(generate_outlet_catalogue(tiny_countries(), policy, seed=42))
    assert metrics["multi_country_legal_spread"] == 0.0
    assert metrics["home_legal_mismatch_rate"] == 0.0


def test_multi_site_merchants_respect_the_minimum_outlets(policy):
    simulation = simulate_outlets(tiny_countries(), policy, seed=202)
    counts = simulation.merchants["n_outlets"]
    assert ((counts == 1) | (counts >= policy["outlets_per_merchant"]["multi_site_min_outlets"])).all()


# ----------------------------------------------------------------------------- shipped data (slower)


@pytest.fixture(scope="module")
def world():
    geodata = pytest.importorskip("gatehouse.sites.geodata")
    countries = geodata.load_countries()
    return countries, southern_population_share(geodata.load_places(), countries)


@pytest.mark.parametrize("seed", SEEDS)
def test_default_policy_earns_site_b_plus_and_1a_b_bands(world, seed):
    countries, southern = world
    simulation = simulate_outlets(countries, load_outlet_policy(), seed, southern)
    bands = load_bands()

    site = site_country_metrics(simulation.catalogue, countries["country_iso"], southern)
    assert 90_000 <= site["site_count"] <= 115_000
    assert site["active_country_count"] >= 200
    assert site_country_grade(site, bands["site_country_gates"]["B_plus"]) == dict.fromkeys(
        bands["site_country_gates"]["B_plus"], True
    )
    assert site["southern_hemisphere_share"] >= 0.20  # margin over the 0.18 gate

    catalogue_metrics = outlet_catalogue_metrics(simulation.catalogue, simulation.merchants["phi"])
    passes = band_passes(catalogue_metrics, bands, "B")
    supported = {name: ok for name, ok in passes.items() if name in catalogue_metrics}
    assert all(supported.values()), supported
    assert len(supported) == 11


def test_origin_like_catalogue_is_europe_centric_and_fails_the_site_gates(world):
    countries, southern = world
    catalogue = outlets.generate_origin_like_catalogue(countries, seed=42, southern_share=southern)
    site = site_country_metrics(catalogue, countries["country_iso"], southern)
    assert 25_000 <= site["site_count"] <= 40_000
    assert 65 <= site["active_country_count"] <= 95
    assert site["southern_hemisphere_share"] < 0.10
    grade_b = site_country_grade(site, load_bands()["site_country_gates"]["B"])
    assert not grade_b["country_gini"]
    assert not grade_b["eligible_country_nonzero_share"]
    assert not grade_b["southern_hemisphere_share"]
    region = catalogue["legal_country_iso"].map(countries.set_index("country_iso")["macro_region"])
    assert (region == "Europe").mean() > 0.5
