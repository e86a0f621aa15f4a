import hashlib

import numpy as np
import pandas as pd
import pytest

from gatehouse.sites.inputs import geodata

from gatehouse.sites.kernels import tiles, weights
from gatehouse.sites.kernels.weights import (
    RebalancePolicy,
    blend_tile_mass,
    country_rebalance_diagnostic,
    population_per_tile,
    quantise_weights,
)


def tile_frame(rows):
    """rows: (country_iso, tile_id, area_m2)"""
    return pd.DataFrame(rows, columns=["country_iso", "tile_id", "area_m2"])


def population_frame(rows):
    return pd.DataFrame(rows, columns=["country_iso", "tile_id", "population"])


def mass_frame(country, masses, first_tile=0):
    return pd.DataFrame({
        "country_iso": country,
        "tile_id": np.arange(first_tile, first_tile + len(masses), dtype=np.int64),
        "mass": masses,
    })


def independent_tie_key(namespace, country, tile_id):
    text = namespace + "|" + country + "|" + str(tile_id)
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], 16)


# ----------------------------------------------------------------------------- population per tile


def test_places_are_summed_per_country_and_cell():
    places = pd.DataFrame({
        "country_iso": ["FR", "FR", "FR", "BE"],
        "lon_deg": [2.35, 2.40, 5.0, 2.45],
        "lat_deg": [48.86, 48.80, 45.0, 48.81],
        "population": [2_000_000, 50_000, 10_000, 7],
    })
    result = population_per_tile(places, 1.0)
    paris, lyon_area = tiles.tile_ids_of_points([2.35, 5.0], [48.86, 45.0], 1.0)
    expected = pd.DataFrame({
        "country_iso": ["BE", "FR", "FR"],
        "tile_id": np.array([paris, paris, lyon_area], dtype=np.int64),
        "population": np.array([7, 2_050_000, 10_000], dtype=np.int64),
    })
    pd.testing.assert_frame_equal(result, expected, check_dtype=False)
    assert result["tile_id"].dtype == np.int64 and result["population"].dtype == np.int64


def test_real_places_keep_total_population():
    places = geodata.load_places()
    per_tile = population_per_tile(places, 0.25)
    assert per_tile["population"].sum() == places["population"].sum()
    assert not per_tile.duplicated(["country_iso", "tile_id"]).any()


def test_population_coverage_reports_what_finds_no_tile():
    index = tile_frame([("FR", 1, 1.0), ("FR", 2, 1.0)])
    pop = population_frame([("FR", 1, 30), ("FR", 9, 10), ("RE", 5, 4)])
    coverage = weights.population_coverage(index, pop).set_index("country_iso")
    assert coverage.loc["FR", "population_on_tiles"] == 30
    assert coverage.loc["FR", "share_on_tiles"] == pytest.approx(0.75)
    assert coverage.loc["RE", "share_on_tiles"] == 0


# ----------------------------------------------------------------------------- blend


def test_blend_worked_example():
    index = tile_frame([("AA", 10, 1.0), ("AA", 11, 3.0), ("BB", 5, 2.0)])
    pop = population_frame([("AA", 10, 0), ("AA", 11, 100)])
    mass = blend_tile_mass(index, pop, {"uniform": 0.2, "area": 0.3, "population": 0.5})
    # AA tile 10: 0.2/2 + 0.3*1/4 + 0.5*0 = 0.175; tile 11: 0.1 + 0.225 + 0.5 = 0.825.
    # BB has no population, so its population share falls back to uniform: 0.2 + 0.3 + 0.5 = 1.
    assert mass["mass"].tolist() == pytest.approx([0.175, 0.825, 1.0])
    assert mass["fallback"].tolist() == [False, False, True]
    assert weights.countries_with_fallback(mass) == ["BB"]
    assert list(mass.columns) == ["country_iso", "tile_id", "mass", "fallback"]


def test_zero_mix_component_does_not_flag_a_fallback():
    index = tile_frame([("AA", 1, 1.0), ("AA", 2, 1.0)])
    mass = blend_tile_mass(index, population_frame([]), {"uniform": 0.42, "area": 0.58, "population": 0.0})
    assert mass["mass"].tolist() == pytest.approx([0.5, 0.5])
    assert not mass["fallback"].any()


def test_blend_mass_sums_to_one_per_country_on_real_data():
    countries = geodata.load_countries()
    index = tiles.build_tile_index(countries, 1.0)
    pop = population_per_tile(geodata.load_places(), 1.0)
    mass = blend_tile_mass(index, pop, {"uniform": 0.2, "area": 0.3, "population": 0.5})
    assert np.allclose(mass.groupby("country_iso")["mass"].sum(), 1.0, rtol=0, atol=1e-12)
    assert len(mass) == len(index)


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ({"uniform": 0.5, "area": 0.4}, "must sum to 1"),
        ({"uniform": 0.5, "area": 0.5, "population": 1e-8}, "must sum to 1"),
        ({"uniform": 1.0, "people": 0.0}, "unknown components"),
        ({"uniform": 1.2, "area": -0.2}, ">= 0"),
    ],
)
def test_invalid_mix_names_the_policy_key(mix, message):
    with pytest.raises(ValueError, match=f"'mix'.*{message}"):
        blend_tile_mass(tile_frame([("AA", 1, 1.0)]), population_frame([]), mix)


def test_mix_within_tolerance_is_accepted():
    weights.validate_mix({"uniform": 0.42, "area": 0.58 + 5e-10})


# ----------------------------------------------------------------------------- quantisation


def test_quantise_exact_split():
    result = quantise_weights(mass_frame("AA", [0.5, 0.3, 0.2]), dp=1)
    assert result["weight_fp"].tolist() == [5, 3, 2]


def test_quantise_worked_example_largest_residues_win():
    # q = 2.6, 3.7, 3.7 -> floors 2, 3, 3 (sum 8); the two residues of 0.7 get the 2 missing units.
    result = quantise_weights(mass_frame("AA", [0.26, 0.37, 0.37]), dp=1)
    assert result["weight_fp"].tolist() == [2, 4, 4]
    assert result["weight_fp"].dtype == np.int64


def test_ties_are_broken_by_the_seeded_hash():
    # Four equal masses, K = 10: q = 2.5 each, two tiles get a third unit; the two lowest hash keys win.
    masses = mass_frame("AA", [1.0, 1.0, 1.0, 1.0], first_tile=100)
    for namespace in ("ns-one", "ns-two", "ns-three"):
        result = quantise_weights(masses, dp=1, namespace=namespace)
        keys = {t: independent_tie_key(namespace, "AA", t) for t in range(100, 104)}
        winners = sorted(keys, key=keys.get)[:2]
        expected = [3 if t in winners else 2 for t in range(100, 104)]
        assert result["weight_fp"].tolist() == expected


def test_tie_key_is_the_first_eight_bytes_of_sha256():
    assert weights.tie_key("ns", "FR", 42) == independent_tie_key("ns", "FR", 42)


def test_uniform_country_is_not_striped_by_tile_id():
    result = quantise_weights(mass_frame("AA", np.ones(1000)), dp=2)
    chosen = result.loc[result["weight_fp"] == 1, "tile_id"]
    assert result["weight_fp"].sum() == 100 and len(chosen) == 100
    assert chosen.tolist() != list(range(100))  # ascending tile_id would pick exactly these
    assert chosen.min() < 100 < chosen.max() and chosen.median() > 300


def test_quantise_sums_exactly_and_ignores_row_order():
    rng = np.random.default_rng(11)
    frames = [mass_frame(iso, rng.gamma(0.3, size=n), first_tile=1000 * i)
              for i, (iso, n) in enumerate([("AA", 1), ("BB", 7), ("CC", 500), ("DD", 20_000)])]
    masses = pd.concat(frames, ignore_index=True)
    for dp in (0, 3, 6):
        result = quantise_weights(masses, dp=dp, namespace="order-test")
        assert (result.groupby("country_iso")["weight_fp"].sum() == 10**dp).all()
        assert (result["weight_fp"] >= 0).all()
        shuffled = quantise_weights(masses.sample(frac=1.0, random_state=5), dp=dp, namespace="order-test")
        pd.testing.assert_frame_equal(result, shuffled)


def test_zero_mass_country_falls_back_to_uniform():
    result = quantise_weights(mass_frame("AA", [0.0, 0.0, 0.0, 0.0]), dp=2)
    assert result["weight_fp"].tolist() == [25, 25, 25, 25]
    assert result["zero_mass_fallback"].all()


def test_quantise_rejects_bad_input():
    with pytest.raises(ValueError, match="dp"):
        quantise_weights(mass_frame("AA", [1.0]), dp=16)
    with pytest.raises(ValueError, match="finite"):
        quantise_weights(mass_frame("AA", [1.0, -0.1]), dp=2)


def test_largest_remainder_gives_back_when_floors_overshoot():
    # Floors above the total can only come from float rounding; the smallest residues give units back,
    # equal residues ordered by tie key (here the index itself).
    keys_by_index = lambda idx: np.asarray(idx, dtype=np.uint64)  # noqa: E731
    assert weights.largest_remainder(np.array([2.0, 1.0, 1.25]), 3, keys_by_index).tolist() == [1, 1, 1]
    # Normal case: one unit short, residues 0.5 and 0.5 tie, the lower key (index 1) wins.
    assert weights.largest_remainder(np.array([2.0, 1.5, 0.5]), 4, keys_by_index).tolist() == [2, 2, 0]


# ----------------------------------------------------------------------------- country rebalance


def no_rebalance(**overrides):
    knobs = dict(region_floors={}, soft_cap=1.0, hard_cap=1.0, topk_targets={}, penalty_strength=0.0,
                 max_iterations=1)
    knobs.update(overrides)
    return RebalancePolicy(**knobs)


def basis_frame(rows):
    return pd.DataFrame(rows, columns=["country_iso", "macro_region", "n_tiles", "area_m2", "population"])


def test_region_floor_moves_mass_into_the_region():
    basis = basis_frame([("AA", "Europe", 45, 1, 0), ("BB", "Europe", 45, 1, 0), ("CC", "Africa", 10, 1, 0)])
    result = country_rebalance_diagnostic(basis, {"uniform": 1.0}, no_rebalance(region_floors={"Africa": 0.2}))
    # Africa's deficit of 0.1 is taken from AA and BB in proportion (0.05 each).
    assert result.shares["base_share"].tolist() == pytest.approx([0.45, 0.45, 0.10])
    assert result.shares["rebalanced_share"].tolist() == pytest.approx([0.40, 0.40, 0.20])
    assert result.region_shares["Africa"] == pytest.approx(0.2)


def test_hard_cap_hands_excess_to_soft_cap_gaps():
    basis = basis_frame([("AA", "Asia", 60, 1, 0), ("BB", "Asia", 30, 1, 0), ("CC", "Asia", 10, 1, 0)])
    result = country_rebalance_diagnostic(basis, {"uniform": 1.0}, no_rebalance(soft_cap=0.4, hard_cap=0.5))
    # Excess 0.1 above 0.5 goes to gaps (0, 0.1, 0.3) below the soft cap.
    assert result.shares["rebalanced_share"].tolist() == pytest.approx([0.5, 0.325, 0.175])


def test_topk_cap_scales_the_top_and_feeds_the_tail():
    basis = basis_frame([("AA", "Asia", 50, 1, 0), ("BB", "Asia", 30, 1, 0), ("CC", "Asia", 20, 1, 0)])
    result = country_rebalance_diagnostic(basis, {"uniform": 1.0}, no_rebalance(topk_targets={0.01: 0.4}))
    # k = ceil(0.01 * 3) = 1: AA drops to 0.4 and the 0.1 goes to BB:CC in proportion 3:2.
    assert result.shares["rebalanced_share"].tolist() == pytest.approx([0.4, 0.36, 0.24])


def test_penalty_pulls_towards_uniform_and_stops_at_max_iterations():
    basis = basis_frame([("AA", "Asia", 80, 1, 0), ("BB", "Asia", 20, 1, 0)])
    policy = no_rebalance(penalty_strength=0.5, max_iterations=24)
    result = country_rebalance_diagnostic(basis, {"uniform": 1.0}, policy)
    # After t rounds the gap to uniform is 0.3 * 0.5**t; the last change is 0.3 * 0.5**24 > 1e-9.
    assert result.iterations == 24 and not result.converged
    assert result.max_delta == pytest.approx(0.3 * 0.5**24)
    assert result.shares["rebalanced_share"].iloc[0] == pytest.approx(0.5 + 0.3 * 0.5**24)


def test_converges_early_when_nothing_binds():
    basis = basis_frame([("AA", "Asia", 1, 1, 0), ("BB", "Europe", 1, 1, 0)])
    policy = no_rebalance(region_floors={"Asia": 0.3, "Europe": 0.3}, max_iterations=24)
    result = country_rebalance_diagnostic(basis, {"uniform": 1.0}, policy)
    assert result.converged and result.iterations == 1
    assert result.shares["rebalanced_share"].tolist() == pytest.approx([0.5, 0.5])


def test_base_share_blends_counts_area_and_population():
    basis = basis_frame([("AA", "Asia", 3, 1.0, 0), ("BB", "Asia", 1, 3.0, 10)])
    result = country_rebalance_diagnostic(basis, {"uniform": 0.5, "area": 0.25, "population": 0.25},
                                          no_rebalance())
    assert result.shares["base_share"].tolist() == pytest.approx([0.5 * 0.75 + 0.25 * 0.25,
                                                                  0.5 * 0.25 + 0.25 * 0.75 + 0.25])


def test_real_world_diagnostic_keeps_a_distribution():
    countries = geodata.load_countries()
    index = tiles.build_tile_index(countries, 1.0)
    pop = population_per_tile(geodata.load_places(), 1.0)
    basis = weights.country_basis(index, pop, countries)
    result = country_rebalance_diagnostic(basis, {"uniform": 0.42, "area": 0.58})
    assert result.shares["rebalanced_share"].sum() == pytest.approx(1.0)
    assert (result.shares["rebalanced_share"] > 0).all()
    assert result.gini_rebalanced < result.gini_base
    assert sum(result.region_shares.values()) == pytest.approx(1.0)
