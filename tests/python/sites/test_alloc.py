"""S4 allocation: the reference law's worked example, invariants, and the sampled anti-collapse rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gatehouse.sites.kernels.alloc import (AllocationInputError, allocate_pairs, largest_remainder_reference,
                                   pair_diagnostics)

MF = "ab" * 32


def random_world(seed: int, n_countries: int = 5, K: int = 1000, n_pairs: int = 200):
    gen = np.random.default_rng(seed)
    rows = []
    for c in range(n_countries):
        size = int(gen.integers(1, 60))
        concentration = gen.choice([0.2, 5.0])
        weights = gen.multinomial(K, gen.dirichlet(np.full(size, concentration)))
        ids = gen.choice(100_000, size, replace=False)
        rows += [(f"C{c}", int(t), int(w)) for t, w in zip(ids, weights)]
    tiles = pd.DataFrame(rows, columns=["country_iso", "tile_id", "weight_fp"])
    pairs = pd.DataFrame({"merchant_id": np.arange(n_pairs, dtype=np.int64) * 7 + 1,
                          "country_iso": [f"C{c}" for c in gen.integers(0, n_countries, n_pairs)],
                          "n_sites": gen.integers(1, 90, n_pairs)})
    return pairs, tiles


def per_pair(alloc: pd.DataFrame) -> dict:
    return {key: dict(zip(g["tile_id"], g["n_sites_tile"]))
            for key, g in alloc.groupby(["merchant_id", "country_iso"])}


# --- reference law ------------------------------------------------------------------------------

def test_reference_worked_example():
    assert largest_remainder_reference([700, 300], [1, 2], n=5, K=1000).tolist() == [4, 1]
    # the tie goes to the lower tile_id whatever the input order
    assert largest_remainder_reference([300, 700], [2, 1], n=5, K=1000).tolist() == [1, 4]


def test_reference_invariants_on_random_inputs():
    gen = np.random.default_rng(3)
    for _ in range(200):
        K = int(gen.choice([10, 1000, 10**6]))
        size = int(gen.integers(1, 30))
        weights = gen.multinomial(K, np.full(size, 1 / size))
        n = int(gen.integers(0, 500))
        counts = largest_remainder_reference(weights, gen.permutation(size), n, K)
        base = weights * n // K
        assert counts.sum() == n
        assert np.all((counts - base >= 0) & (counts - base <= 1))


def test_reference_rejects_weights_not_summing_to_K():
    with pytest.raises(AllocationInputError, match="sum to K"):
        largest_remainder_reference([1, 2], [1, 2], 3, 10)


# --- production modes ---------------------------------------------------------------------------

def test_largest_remainder_mode_equals_reference_law():
    pairs, tiles = random_world(seed=1)
    alloc = allocate_pairs(pairs, tiles, 1000, 42, MF, mode="largest_remainder_v1")
    got = per_pair(alloc)
    for pair in pairs.itertuples():
        country = tiles[tiles["country_iso"] == pair.country_iso]
        counts = largest_remainder_reference(country["weight_fp"], country["tile_id"], pair.n_sites, 1000)
        expected = {t: c for t, c in zip(country["tile_id"], counts) if c > 0}
        assert got[(pair.merchant_id, pair.country_iso)] == expected


@pytest.mark.parametrize("mode", ["largest_remainder_v1", "weighted_sample_v2"])
def test_sums_floors_and_distinct_bumps(mode):
    pairs, tiles = random_world(seed=2)
    alloc = allocate_pairs(pairs, tiles, 1000, 42, MF, mode=mode)
    assert (alloc["n_sites_tile"] >= 1).all()
    assert not alloc.duplicated(["merchant_id", "country_iso", "tile_id"]).any()
    totals = alloc.groupby(["merchant_id", "country_iso"])["n_sites_tile"].sum()
    assert totals.to_dict() == pairs.set_index(["merchant_id", "country_iso"])["n_sites"].to_dict()
    joined = alloc.merge(tiles, on=["country_iso", "tile_id"]).merge(pairs, on=["merchant_id", "country_iso"])
    bump = joined["n_sites_tile"] - joined["weight_fp"] * joined["n_sites"] // 1000
    assert set(bump.unique()) <= {0, 1}  # integer part kept; the shortfall went to distinct tiles
    assert (joined["weight_fp"] > 0).all()
    assert list(alloc.columns) == ["merchant_id", "country_iso", "tile_id", "n_sites_tile"]
    assert alloc.equals(alloc.sort_values(["merchant_id", "country_iso", "tile_id"]).reset_index(drop=True))


def test_sampling_is_deterministic_and_ignores_row_order():
    pairs, tiles = random_world(seed=4)
    first = allocate_pairs(pairs, tiles, 1000, 42, MF)
    shuffled = allocate_pairs(pairs.sample(frac=1, random_state=1), tiles.sample(frac=1, random_state=2),
                              1000, 42, MF)
    pd.testing.assert_frame_equal(first, shuffled)
    assert not first.equals(allocate_pairs(pairs, tiles, 1000, 43, MF))


def test_one_pair_alone_equals_its_rows_in_the_batch():
    pairs, tiles = random_world(seed=5)
    batch = per_pair(allocate_pairs(pairs, tiles, 1000, 42, MF))
    for pair in pairs.head(10).itertuples():
        alone = per_pair(allocate_pairs(pairs[pairs["merchant_id"] == pair.merchant_id], tiles, 1000, 42, MF))
        assert alone[(pair.merchant_id, pair.country_iso)] == batch[(pair.merchant_id, pair.country_iso)]


def test_sampling_does_not_depend_on_tile_id_labels():
    pairs, tiles = random_world(seed=6)
    relabelled = tiles.copy()
    relabelled["tile_id"] = np.random.default_rng(0).permutation(500_000)[: len(tiles)]
    weight_of = {(c, t): w for c, t, w in tiles[["country_iso", "tile_id", "weight_fp"]].itertuples(index=False)}
    weight_of_new = {(c, t): w for c, t, w in relabelled[["country_iso", "tile_id", "weight_fp"]]
                     .itertuples(index=False)}

    def weight_multisets(alloc, weights):
        return {key: sorted((weights[(key[1], t)], c) for t, c in counts.items())
                for key, counts in per_pair(alloc).items()}

    assert (weight_multisets(allocate_pairs(pairs, tiles, 1000, 42, MF), weight_of)
            == weight_multisets(allocate_pairs(pairs, relabelled, 1000, 42, MF), weight_of_new))


def test_many_tiles_few_sites_does_not_collapse_onto_low_tile_ids():
    # one country of 10,000 equal-weight tiles; the reference law sends every merchant to tiles 0..n-1
    K, size = 10**6, 10_000
    tiles = pd.DataFrame({"country_iso": "DE", "tile_id": np.arange(size), "weight_fp": K // size})
    pairs = pd.DataFrame({"merchant_id": np.arange(300), "country_iso": "DE", "n_sites": 5})
    legacy = allocate_pairs(pairs, tiles, K, 42, MF, mode="largest_remainder_v1")
    sampled = allocate_pairs(pairs, tiles, K, 42, MF)
    assert set(legacy["tile_id"]) == {0, 1, 2, 3, 4}
    assert sampled["tile_id"].nunique() > 1000


def test_sampled_frequencies_follow_residues():
    """n = 2 over weights with one big tile: it keeps z = 1 and competes with residue (0.6·2 − 1)·K;
    every other tile competes with 2·w. One shortfall site per pair, so P(tile) = residue / K."""
    K = 10**6
    small = np.array([5, 10, 20, 40, 80, 100, 145]) * 1000  # sums to 400,000
    weights = np.concatenate([[600_000], small])
    tiles = pd.DataFrame({"country_iso": "FR", "tile_id": np.arange(len(weights)) * 11, "weight_fp": weights})
    n_pairs = 20_000
    pairs = pd.DataFrame({"merchant_id": np.arange(n_pairs), "country_iso": "FR", "n_sites": 2})
    alloc = allocate_pairs(pairs, tiles, K, 7, MF)
    bumped = alloc.assign(extra=alloc["n_sites_tile"] - np.where(alloc["tile_id"] == 0, 1, 0))
    observed = bumped.groupby("tile_id")["extra"].sum().reindex(tiles["tile_id"], fill_value=0).to_numpy()
    expected_p = np.concatenate([[0.2], 2 * small / K])
    assert observed.sum() == n_pairs
    chi2 = ((observed - n_pairs * expected_p) ** 2 / (n_pairs * expected_p)).sum()
    assert chi2 < stats.chi2.ppf(0.999, df=len(weights) - 1)


def test_rng_accounting_counts_blocks_per_pair():
    pairs, tiles = random_world(seed=8)
    _, accounting = allocate_pairs(pairs, tiles, 1000, 42, MF, return_rng_accounting=True)
    assert (accounting["blocks"] >= accounting["shortfall"]).all()
    assert ((accounting["blocks"] == 0) == (accounting["shortfall"] == 0)).all()


def test_input_errors_are_named():
    pairs, tiles = random_world(seed=9)
    with pytest.raises(AllocationInputError, match="without tiles"):
        allocate_pairs(pairs.assign(country_iso="ZZ"), tiles, 1000, 42, MF)
    with pytest.raises(AllocationInputError, match="sum to K"):
        allocate_pairs(pairs, tiles, 999, 42, MF)
    with pytest.raises(AllocationInputError, match="unknown allocation mode"):
        allocate_pairs(pairs, tiles, 1000, 42, MF, mode="nope")
    with pytest.raises(AllocationInputError, match="duplicate"):
        allocate_pairs(pairs, pd.concat([tiles, tiles.head(1)]), 1000, 42, MF)


# --- diagnostics --------------------------------------------------------------------------------

def test_pair_diagnostics_known_answer():
    alloc = pd.DataFrame({"merchant_id": [1, 1, 1, 2], "country_iso": ["AA", "AA", "AA", "BB"],
                          "tile_id": [1, 2, 3, 9], "n_sites_tile": [3, 1, 1, 4]})
    diag = pair_diagnostics(alloc, pd.Series({"AA": 3, "BB": 10})).set_index("merchant_id")
    assert diag.loc[1, "n_sites"] == 5 and diag.loc[1, "active_tiles"] == 3
    assert diag.loc[1, "top1"] == pytest.approx(3 / 5)
    assert diag.loc[1, "hhi"] == pytest.approx((9 + 1 + 1) / 25)
    # m = 3, q, r = divmod(5, 3) = (1, 2): floors (q+1)/n and (r(q+1)² + (m−r)q²)/n²
    assert diag.loc[1, "top1_floor"] == pytest.approx(2 / 5)
    assert diag.loc[1, "hhi_floor"] == pytest.approx((2 * 4 + 1 * 1) / 25)
    # m = 10 > n = 4: q = 0, r = 4, floors 1/n and 1/n
    assert diag.loc[2, "top1_floor"] == pytest.approx(1 / 4) and diag.loc[2, "hhi_floor"] == pytest.approx(1 / 4)
    assert diag.loc[2, "top1"] == 1.0


# --- settlement_clusters_v3 -----------------------------------------------------------------------

CLUSTERS = "settlement_clusters_v3"


def clustered(pairs, tiles, seed=7, cluster_size=2, K=1000):
    return allocate_pairs(pairs, tiles, K, seed, MF, mode=CLUSTERS, return_rng_accounting=True,
                          cluster_size=cluster_size)


def test_clusters_keep_every_pair_total_and_fill_country_clusters():
    pairs, tiles = random_world(11)
    alloc, accounting = clustered(pairs, tiles, cluster_size=3)
    totals = alloc.groupby(["merchant_id", "country_iso"])["n_sites_tile"].sum()
    assert totals.to_dict() == pairs.set_index(["merchant_id", "country_iso"])["n_sites"].to_dict()
    country_sites = pairs.groupby("country_iso")["n_sites"].sum()
    per_tile = alloc.groupby(["country_iso", "tile_id"])["n_sites_tile"].sum()
    # every drawn tile holds whole clusters of 3 or 4 outlets (several clusters may share a tile)
    for country, n in country_sites.items():
        tile_totals = per_tile.loc[country]
        clusters = max(n // 3, 1)
        assert tile_totals.sum() == n and (tile_totals >= min(n, 3)).all()
        assert len(tile_totals) <= clusters
    # one substream per country: N // c draws for the clusters, N for the shuffle, on the first pair
    first_pairs = accounting.groupby("country_iso").head(1)
    assert accounting["blocks"].sum() == int((country_sites + (country_sites // 3).clip(lower=1)).sum())
    assert (first_pairs["blocks"] > 0).all() and (accounting["blocks"] > 0).sum() == len(country_sites)


def test_cluster_worked_example_one_country_two_tiles():
    tiles = pd.DataFrame({"country_iso": ["AA", "AA", "AA"], "tile_id": [5, 9, 12], "weight_fp": [1000, 0, 0]})
    pairs = pd.DataFrame({"merchant_id": [1, 2], "country_iso": ["AA", "AA"], "n_sites": [3, 2]})
    alloc, accounting = clustered(pairs, tiles)
    # all weight on tile 5: 5 sites -> 2 clusters (3 + 2), both drawn to tile 5
    assert alloc[["merchant_id", "tile_id", "n_sites_tile"]].values.tolist() == [[1, 5, 3], [2, 5, 2]]
    assert accounting["blocks"].tolist() == [2 + 5, 0]


def test_cluster_draws_follow_weights_and_never_zero_weight_tiles():
    tiles = pd.DataFrame({"country_iso": ["AA"] * 4, "tile_id": [1, 2, 3, 4], "weight_fp": [500, 300, 200, 0]})
    pairs = pd.DataFrame({"merchant_id": np.arange(1, 2001), "country_iso": "AA", "n_sites": 2})
    alloc, _ = clustered(pairs, tiles, seed=3)
    per_tile = alloc.groupby("tile_id")["n_sites_tile"].sum()
    assert 4 not in per_tile.index
    clusters = per_tile / 2  # every cluster holds exactly 2 outlets here
    chi2 = stats.chisquare(clusters.to_numpy(), f_exp=np.array([0.5, 0.3, 0.2]) * clusters.sum())
    assert chi2.pvalue > 1e-4


def test_clusters_are_deterministic_and_move_with_the_seed():
    pairs, tiles = random_world(5)
    first, _ = clustered(pairs, tiles, seed=1)
    again, _ = clustered(pairs.sample(frac=1, random_state=0), tiles.sample(frac=1, random_state=0), seed=1)
    other, _ = clustered(pairs, tiles, seed=2)
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_cluster_size_must_be_a_positive_integer():
    pairs, tiles = random_world(1)
    with pytest.raises(AllocationInputError, match="cluster_size"):
        clustered(pairs, tiles, cluster_size=0)
