import copy
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from gatehouse.sites.inputs import outlets
from gatehouse.sites.kernels.outlet_metrics import (
    band_passes,
    identity_anomalies,
    load_bands,
    outlet_catalogue_metrics,
)
from gatehouse.sites.inputs.outlets import (
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
TUNED_V1_POLICY_PATH = Path(__file__).parent / "fixtures" / "outlets_1a_tuned_v1.yaml"
ALTERNATIVE_POLICY_PATHS = [
    outlets.policy_dir() / "outlets_1a_population_proportional.yaml",
    outlets.policy_dir() / "outlets_1a_gdp_proportional.yaml",
]


def square(lon, lat, half=1.0):
    return box(lon - half, lat - half, lon + half, lat + half)


def tiny_countries():
    """Six countries; CC, EE and FF lie south of the equator.

    ``population`` (the GeoNames country population the generator reads) deliberately differs in
    proportion from Natural Earth ``pop_est`` (which it no longer reads), so a test can tell them apart.
    """
    rows = [
        ("AA", "Europe", 80e6, 83_000_000, 4000e3, square(10, 50)),
        ("BB", "Europe", 10e6, 11_500_000, 500e3, square(14, 52)),
        ("CC", "Africa", 50e6, 45_000_000, 400e3, square(20, -10)),
        ("DD", "Asia", 300e6, 270_000_000, 3000e3, square(100, 20)),
        ("EE", "South America", 40e6, 46_000_000, 600e3, square(-60, -30)),
        ("FF", "Oceania", 0.1e6, 12_000, 1e3, square(170, -15)),
    ]
    return pd.DataFrame(
        [
            {"country_iso": iso, "iso3": iso + "X", "name": iso, "region_un": region, "subregion": region,
             "macro_region": region, "pop_est": pop_est, "population": population, "gdp_md": gdp,
             "geometry": geometry}
            for iso, region, pop_est, population, gdp, geometry in rows
        ]
    )


def with_population(countries, **population):
    """countries with the GeoNames population of some of them replaced (e.g. FF=499)."""
    changed = countries.copy()
    changed["population"] = [population.get(iso, value) for iso, value in zip(changed["country_iso"], changed["population"])]
    return changed


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
    default = load_outlet_policy()
    assert default["policy_version"] == "outlets_1a.v2"
    assert load_outlet_policy(outlets.origin_like_policy_path())["policy_version"]
    for path in ALTERNATIVE_POLICY_PATHS:
        assert load_outlet_policy(path)["policy_version"] == f"{path.stem}.v1"
    shipped = [default, load_outlet_policy(outlets.origin_like_policy_path())]
    shipped += [load_outlet_policy(path) for path in ALTERNATIVE_POLICY_PATHS]
    assert [p["home_country_mix"]["min_country_population"] for p in shipped] == [500] * 4


def test_default_policy_v2_is_population_to_the_0_4_and_nothing_else():
    mix = load_outlet_policy()["home_country_mix"]
    assert mix["blend"] == {"population": 1.0, "gdp": 0.0, "uniform": 0.0}
    assert mix["population_exponent"] == 0.4
    assert mix["southern_boost"] == 0.0
    assert not mix["region_floors"]
    assert mix["country_cap_share"] == 1.0
    assert not mix["excluded_countries"]
    assert mix["min_country_population"] == 500


def test_tuned_v1_fixture_validates():
    tuned = load_outlet_policy(TUNED_V1_POLICY_PATH)
    assert tuned["policy_version"] == "outlets_1a.v1"
    assert tuned["home_country_mix"]["min_country_population"] == 0


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
        ("home_country_mix", "min_country_population", -1, r"home_country_mix\.min_country_population: must be >= 0"),
        ("home_country_mix", "min_country_population", 500.5,
         r"home_country_mix\.min_country_population: expected an integer"),
        ("home_country_mix", "min_country_population", "500",
         r"home_country_mix\.min_country_population: expected a number"),
    ],
)
def test_validation_rejects_bad_values_naming_the_key(policy, section, key, value, message):
    policy[section][key] = value
    with pytest.raises(PolicyError, match=message):
        validate_outlet_policy(policy)


def test_validation_requires_min_country_population(policy):
    del policy["home_country_mix"]["min_country_population"]
    with pytest.raises(PolicyError, match=r"^home_country_mix\.min_country_population: required key is missing"):
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
    expected = (countries["population"] / countries["population"].sum()).to_numpy()
    assert shares.to_numpy() == pytest.approx(expected)
    # The GeoNames `population` column drives the shares, not Natural Earth pop_est.
    assert shares.to_numpy() != pytest.approx((countries["pop_est"] / countries["pop_est"].sum()).to_numpy())


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


def test_min_country_population_excludes_countries_below_it(policy):
    by_population = with_mix(
        policy, blend={"population": 1.0, "gdp": 0.0, "uniform": 0.0}, population_exponent=1.0, southern_boost=0.0,
        country_cap_share=1.0, min_country_population=11_500_000,  # BB's population exactly: BB stays
    )
    countries = tiny_countries()
    shares = home_country_shares(countries, by_population)
    assert shares["FF"] == 0.0
    kept = countries.set_index("country_iso")["population"].drop("FF")
    assert shares.drop("FF").to_numpy() == pytest.approx((kept / kept.sum()).to_numpy())
    assert (shares.drop("FF") > 0).all()
    assert list(outlets.populated(countries, by_population)) == [True, True, True, True, True, False]


def test_default_threshold_of_500_inhabitants_excludes_a_territory_of_499(policy):
    assert policy["home_country_mix"]["min_country_population"] == 500
    uniform = with_mix(policy, blend={"population": 0.0, "gdp": 0.0, "uniform": 1.0}, southern_boost=0.0)
    countries = with_population(tiny_countries(), EE=500, FF=499)
    shares = home_country_shares(countries, uniform)
    assert shares["FF"] == 0.0  # even the uniform component gives an unpopulated territory nothing
    assert shares.drop("FF").to_numpy() == pytest.approx(np.full(5, 1 / 5))  # 500 is populated


def test_unpopulated_territories_get_no_sites_at_home_or_abroad(policy):
    countries = with_population(tiny_countries(), BB=0, FF=499)
    simulation = simulate_outlets(countries, policy, seed=42)
    assert simulation.home_shares[["BB", "FF"]].tolist() == [0.0, 0.0]
    # BB is AA's neighbour: only the populated-territory rule keeps gravity from sending outlets there.
    assert simulation.catalogue["legal_country_iso"].nunique() > 1
    assert not simulation.catalogue["legal_country_iso"].isin(["BB", "FF"]).any()
    assert not simulation.catalogue["home_country_iso"].isin(["BB", "FF"]).any()


def test_excluding_every_country_is_an_error(policy):
    empty = with_mix(policy, excluded_countries=["AA", "BB", "CC", "DD"], min_country_population=10**9)
    with pytest.raises(ValueError, match="exclude every country"):
        home_country_shares(tiny_countries(), empty)


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
    """The shipped countries with the GeoNames country population (as in production) and southern shares."""
    geodata = pytest.importorskip("gatehouse.sites.inputs.geodata")
    from gatehouse.sites.dbt_steps import sources

    countries = sources.with_country_population(geodata.load_countries())
    return countries, southern_population_share(geodata.load_places(), countries)


@pytest.fixture(scope="module")
def default_simulations(world):
    """The v2 default's simulation per seed, computed once for the tests below."""
    countries, southern = world
    policy = load_outlet_policy()
    return {seed: simulate_outlets(countries, policy, seed, southern) for seed in SEEDS}


def test_world_has_the_unpopulated_territories_the_rule_is_about(world):
    countries, _ = world
    unpopulated = set(countries.loc[countries["population"] < 500, "country_iso"])
    assert {"AQ", "HM"} <= unpopulated  # no permanent inhabitants
    assert len(unpopulated) < 10


def test_default_home_shares_are_population_to_the_0_4_over_populated_countries(world):
    countries, southern = world
    shares = home_country_shares(countries, load_outlet_policy(), southern)

    population = countries.set_index("country_iso")["population"].astype(float)
    populated = population >= 500
    weight = (population**0.4).where(populated, 0.0)
    expected = weight / weight.sum()
    assert list(shares.index) == list(expected.index)
    assert shares.to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-12, abs=0)
    assert (shares[~populated] == 0.0).all()
    assert (shares[populated] > 0.0).all()
    # No tilt, floor or cap: the ratio of two countries' shares is their population ratio to the 0.4.
    assert shares["CN"] / shares["FR"] == pytest.approx((population["CN"] / population["FR"]) ** 0.4)


@pytest.mark.parametrize("seed", SEEDS)
def test_default_policy_catalogue_meets_the_1a_b_bands(default_simulations, seed):
    simulation = default_simulations[seed]
    bands = load_bands()

    sites_per_country = simulation.catalogue["legal_country_iso"].value_counts()
    assert 90_000 <= sites_per_country.sum() <= 115_000
    assert len(sites_per_country) >= 200
    # The 1B country gates (S-R-B-*) are the dbt scorecard's, checked on these catalogues by every
    # certification build (test_realism_cli).

    catalogue_metrics = outlet_catalogue_metrics(simulation.catalogue, simulation.merchants["phi"])
    assert identity_anomalies(simulation.catalogue) == []
    passes = band_passes(catalogue_metrics, bands, "B")
    supported = {name: ok for name, ok in passes.items() if name in catalogue_metrics}
    assert all(supported.values()), supported
    assert len(supported) == 11


@pytest.mark.parametrize("seed", SEEDS)
def test_tuned_v1_put_sites_in_unpopulated_territories_and_v2_puts_none(world, default_simulations, seed):
    countries, southern = world
    unpopulated = countries.loc[countries["population"] < 500, "country_iso"]

    tuned = simulate_outlets(countries, load_outlet_policy(TUNED_V1_POLICY_PATH), seed, southern)
    tuned_sites = tuned.catalogue["legal_country_iso"].isin(unpopulated)
    assert tuned_sites.sum() > 100
    assert tuned.catalogue.loc[tuned_sites, "legal_country_iso"].nunique() >= 3

    default = default_simulations[seed]
    assert not default.catalogue["legal_country_iso"].isin(unpopulated).any()
    assert not default.catalogue["home_country_iso"].isin(unpopulated).any()
    assert (default.home_shares.reindex(unpopulated) == 0.0).all()


def test_origin_like_catalogue_is_europe_centric(world):
    # That it fails the 1B gates S-R-B-01/05/06 is checked on the dbt scorecard (test_realism_cli, prior sensitivity).
    countries, southern = world
    catalogue = outlets.generate_origin_like_catalogue(countries, seed=42, southern_share=southern)
    sites_per_country = catalogue["legal_country_iso"].value_counts()
    assert 25_000 <= sites_per_country.sum() <= 40_000
    assert 65 <= len(sites_per_country) <= 95
    region = catalogue["legal_country_iso"].map(countries.set_index("country_iso")["macro_region"])
    assert (region == "Europe").mean() > 0.5
