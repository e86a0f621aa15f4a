"""S4: integer allocation of each (merchant, country) pair's n sites over the country's tiles.

Base law (reference §3 S4), per pair with K = Σ weight_fp of the country:
    z_i = floor(w_i·n / K),  rnum_i = (w_i·n) mod K,  shortfall S = n − Σ z_i = Σ rnum_i / K.

The two per-pair modes differ only in which S tiles receive the +1:
- `largest_remainder_v1`: the S largest rnum, ties by ascending tile_id (the reference law; it
  collapses onto adjacent tiles of one raster row when n ≪ tiles).
- `weighted_sample_v2`: S distinct tiles drawn without replacement with probability ∝ rnum, from the
  pair's counter-based substream (label `s4_alloc_sample`). Tile ids only label the result.

A third mode draws per country, not per pair:
- `settlement_clusters_v3`: a country's N sites (all its pairs) form max(1, N // c) clusters of c or
  c + 1 outlets (c = `cluster_size`); each cluster's tile is drawn with replacement ∝ weight_fp (block j
  of the country's `s4_cluster_draw` substream, merchant id 0), and the N sites, shuffled by blocks
  clusters … clusters + N − 1 of the same substream, fill the cluster slots in order. Outlets of
  different merchants share a settlement, as shops do, and no outlet of a country with ≥ c sites is
  the only one drawn to its tile. With full-precision weights every populated tile can be drawn.

Scale trick (never materialise pairs × tiles): sort each country's tiles once by (weight desc,
tile_id asc). For a pair, the "big" tiles with w_i·n ≥ K are a prefix of that order (at most n of
them) and are the only ones with z_i ≥ 1; every other tile has rnum_i = w_i·n ∝ w_i, so a draw that
lands in the small-tile mass is an inverse-CDF lookup in the country's cumulative weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gatehouse.sites.kernels import rng

ALLOC_MODES = ("largest_remainder_v1", "weighted_sample_v2", "settlement_clusters_v3")
DEFAULT_MODE = "weighted_sample_v2"
SAMPLE_LABEL = "s4_alloc_sample"
CLUSTER_LABEL = "s4_cluster_draw"
COUNTRY_STREAM_MERCHANT = 0  # the merchant id of a country's own substream (cluster mode)
_MAX_SAMPLING_ROUNDS = 200
_MAX_OVERSAMPLE_DOUBLINGS = 10


class AllocationInputError(ValueError):
    """The pairs or tile weights violate the S4 preconditions."""


# --------------------------------------------------------------------------------------------
# Reference law (one pair, plain integer arithmetic)
# --------------------------------------------------------------------------------------------

def largest_remainder_reference(weights_fp, tile_ids, n: int, K: int) -> np.ndarray:
    """Counts per tile (aligned with the inputs, zeros included) under the base law.

    The S = n − Σz tiles with the largest (w·n) mod K get +1; ties go to the lower tile_id.
    """
    weights = [int(w) for w in weights_fp]
    ids = [int(t) for t in tile_ids]
    if len(weights) != len(ids):
        raise AllocationInputError("weights_fp and tile_ids must have the same length")
    if any(w < 0 for w in weights) or sum(weights) != K:
        raise AllocationInputError(f"weights must be non-negative and sum to K={K}")
    if n < 0:
        raise AllocationInputError("n must be non-negative")
    base = [w * n // K for w in weights]
    remainder = [w * n % K for w in weights]
    shortfall = n - sum(base)
    bumped = sorted(range(len(weights)), key=lambda i: (-remainder[i], ids[i]))[:shortfall]
    for i in bumped:
        base[i] += 1
    return np.array(base, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Country tile tables, prepared once
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CountryTiles:
    """All tiles sorted by (country, weight desc, tile_id asc) with per-country offsets."""

    K: int
    countries: pd.Index       # country_iso, position = country code
    start: np.ndarray          # first sorted row of each country
    size: np.ndarray           # tile count of each country
    tile_id: np.ndarray        # sorted
    weight: np.ndarray         # int64, sorted
    cum_weight: np.ndarray     # global inclusive cumsum; country c spans (c·K, (c+1)·K]
    rank_key: np.ndarray       # c·(K+1) + (K − w): ascending, for "how many tiles have w ≥ x"
    id_rank: np.ndarray        # rank of each row by tile_id, for sorting output by tile_id

    def count_at_least(self, country: np.ndarray, threshold: np.ndarray) -> np.ndarray:
        """Number of tiles in `country` with weight ≥ threshold (threshold ≤ K)."""
        probe = country * (self.K + 1) + (self.K - threshold)
        return np.searchsorted(self.rank_key, probe, side="right") - self.start[country]


def prepare_country_tiles(tiles: pd.DataFrame, K: int) -> CountryTiles:
    """Validate tiles[country_iso, tile_id, weight_fp] (Σ weight_fp = K per country) and index them."""
    _require_columns(tiles, ["country_iso", "tile_id", "weight_fp"], "tiles")
    weight = tiles["weight_fp"].to_numpy()
    tile_id = tiles["tile_id"].to_numpy()
    if not np.issubdtype(weight.dtype, np.integer) or (weight < 0).any():
        raise AllocationInputError("weight_fp must be non-negative integers")
    if not np.issubdtype(tile_id.dtype, np.integer) or (len(tile_id) and tile_id.min() < 0):
        raise AllocationInputError("tile_id must be non-negative integers")
    country_code, countries = pd.factorize(tiles["country_iso"], sort=True)
    order = np.lexsort((tile_id, -weight.astype(np.int64), country_code))
    country_code, tile_id, weight = country_code[order], tile_id[order], weight[order].astype(np.int64)
    id_rank = _tile_id_rank(tile_id, country_code, len(countries))

    size = np.bincount(country_code, minlength=len(countries))
    totals = np.bincount(country_code, weights=weight, minlength=len(countries))
    bad = np.flatnonzero(totals != K)
    if bad.size:
        raise AllocationInputError(f"weight_fp must sum to K={K} per country; not so for "
                                   f"{list(countries[bad][:5])}")
    if K * (K + 1) * (len(countries) + 1) >= 2**62:
        raise AllocationInputError(f"K={K} too large for int64 rank keys")
    start = np.concatenate([[0], np.cumsum(size)[:-1]]).astype(np.int64)
    return CountryTiles(
        K=K, countries=pd.Index(countries), start=start, size=size.astype(np.int64), tile_id=tile_id,
        weight=weight, cum_weight=np.cumsum(weight),
        rank_key=country_code.astype(np.int64) * (K + 1) + (K - weight),
        id_rank=id_rank)


def _tile_id_rank(tile_id: np.ndarray, country_code: np.ndarray, n_countries: int) -> np.ndarray:
    """Rank of each row by (tile_id, country); also rejects duplicate (country, tile_id)."""
    if len(tile_id) and int(tile_id.max()) >= 2**62 // max(n_countries, 1):
        raise AllocationInputError("tile_id too large")
    key = tile_id.astype(np.int64) * n_countries + country_code
    by_id = np.argsort(key)
    if (np.diff(key[by_id]) == 0).any():
        raise AllocationInputError("duplicate (country_iso, tile_id) in tiles")
    rank = np.empty(len(key), dtype=np.int64)
    rank[by_id] = np.arange(len(key))
    return rank


# --------------------------------------------------------------------------------------------
# Production allocation
# --------------------------------------------------------------------------------------------

def allocate_pairs(pairs: pd.DataFrame, tiles: pd.DataFrame, K: int, seed: int, manifest_fingerprint: str,
                   mode: str = DEFAULT_MODE, return_rng_accounting: bool = False, cluster_size: int = 2):
    """Allocate every pair's n_sites over its country's tiles.

    pairs: [merchant_id, country_iso, n_sites ≥ 1], one row per pair.
    tiles: [country_iso, tile_id, weight_fp], Σ weight_fp = K per country.
    Returns [merchant_id, country_iso, tile_id, n_sites_tile ≥ 1] sorted by that key, with
    Σ n_sites_tile = n_sites per pair. With return_rng_accounting (weighted_sample_v2), also returns
    [merchant_id, country_iso, shortfall, blocks]: Philox blocks consumed per pair (one per draw,
    counter advanced from the substream start; duplicates rejected). In settlement_clusters_v3 a
    country's blocks are counted on its first pair (lowest merchant_id) and shortfall = n_sites.
    """
    if mode not in ALLOC_MODES:
        raise AllocationInputError(f"unknown allocation mode {mode!r}; expected one of {ALLOC_MODES}")
    pairs = _canonical_pairs(pairs)
    table = prepare_country_tiles(tiles, K)
    country = table.countries.get_indexer(pairs["country_iso"])
    if (country < 0).any():
        missing = sorted(set(pairs["country_iso"][country < 0]))
        raise AllocationInputError(f"pairs reference countries without tiles: {missing[:10]}")
    n = pairs["n_sites"].to_numpy(dtype=np.int64)
    if K * int(n.max(initial=0)) >= 2**62:
        raise AllocationInputError("K · n_sites overflows int64")

    if mode == "settlement_clusters_v3":
        return _settlement_clusters(pairs, table, country, n, seed, manifest_fingerprint, cluster_size,
                                    return_rng_accounting)
    big = _big_tiles(table, country, n)
    shortfall = n - _segment_sums(big.base, big.count)
    if mode == "largest_remainder_v1":
        bumped_pair, bumped_pos = _largest_remainder_bumps(table, country, n, big, shortfall)
        blocks = np.zeros(len(n), dtype=np.int64)
    else:
        bumped_pair, bumped_pos, blocks = _sampled_bumps(table, country, n, big, shortfall, pairs, seed,
                                                         manifest_fingerprint)
    keep = big.base > 0
    alloc = _counts_frame(pairs, table,
                          np.concatenate([big.pair[keep], bumped_pair]),
                          np.concatenate([big.pos[keep], bumped_pos]),
                          np.concatenate([big.base[keep], np.ones(len(bumped_pos), dtype=np.int64)]))
    if not return_rng_accounting:
        return alloc
    accounting = pairs[["merchant_id", "country_iso"]].copy()
    accounting["shortfall"] = shortfall
    accounting["blocks"] = blocks
    return alloc, accounting


def _settlement_clusters(pairs, table, country, n, seed, manifest_fingerprint, cluster_size, return_rng_accounting):
    """settlement_clusters_v3 (module docstring): cluster tiles per country, sites dealt to cluster slots."""
    if int(cluster_size) != cluster_size or cluster_size < 1:
        raise AllocationInputError(f"cluster_size must be a positive integer, got {cluster_size!r}")
    site_pair = np.repeat(np.arange(len(n)), n)
    site_country = country[site_pair]
    by_country = np.argsort(site_country, kind="stable")  # pairs are in (merchant, country) order
    site_pair, site_country = site_pair[by_country], site_country[by_country]

    used = np.unique(country)
    n_sites = np.bincount(country, weights=n, minlength=len(table.countries)).astype(np.int64)[used]
    n_clusters = np.maximum(n_sites // int(cluster_size), 1)
    key, ctr_hi, ctr_lo = rng.substreams(seed, manifest_fingerprint, CLUSTER_LABEL,
                                         np.full(len(used), COUNTRY_STREAM_MERCHANT), table.countries[used])

    cluster_owner = np.repeat(np.arange(len(used)), n_clusters)
    cluster_block = _rank_within_groups(cluster_owner)
    x0, _ = rng.philox2x64(key[cluster_owner], *rng.add_to_counter(ctr_hi[cluster_owner], ctr_lo[cluster_owner],
                                                                   cluster_block))
    t = rng.mulhi(x0, np.full(len(x0), table.K, dtype=np.uint64)).astype(np.int64)
    cluster_pos = _searchsorted_right(table.cum_weight, used[cluster_owner] * table.K + t)
    # cluster j of a country holds N // clusters outlets, one more for the first N % clusters clusters
    slots = n_sites[cluster_owner] // n_clusters[cluster_owner] + (cluster_block < n_sites[cluster_owner] %
                                                                     n_clusters[cluster_owner])
    slot_pos = np.repeat(cluster_pos, slots)

    site_owner = np.repeat(np.arange(len(used)), n_sites)
    site_block = n_clusters[site_owner] + _rank_within_groups(site_owner)
    u, _ = rng.philox2x64(key[site_owner], *rng.add_to_counter(ctr_hi[site_owner], ctr_lo[site_owner], site_block))
    shuffled = np.lexsort((np.arange(len(u)), u, site_owner))
    alloc = _counts_frame(pairs, table, site_pair[shuffled], slot_pos, np.ones(len(slot_pos), dtype=np.int64))
    if not return_rng_accounting:
        return alloc
    blocks = np.zeros(len(n), dtype=np.int64)
    first_pair = np.full(len(table.countries), len(n))
    np.minimum.at(first_pair, country, np.arange(len(n)))
    blocks[first_pair[used]] = n_clusters + n_sites
    accounting = pairs[["merchant_id", "country_iso"]].assign(shortfall=n, blocks=blocks)
    return alloc, accounting


def _canonical_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    _require_columns(pairs, ["merchant_id", "country_iso", "n_sites"], "pairs")
    if (pairs["n_sites"] < 1).any():
        raise AllocationInputError("n_sites must be ≥ 1 for every pair")
    if pairs.duplicated(["merchant_id", "country_iso"]).any():
        raise AllocationInputError("duplicate (merchant_id, country_iso) in pairs")
    return pairs.sort_values(["merchant_id", "country_iso"], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class _BigTiles:
    """Per pair, the prefix of its country's tiles with w·n ≥ K (one row each, grouped by pair)."""

    count: np.ndarray    # per pair
    pair: np.ndarray     # per row
    pos: np.ndarray      # sorted-table row
    base: np.ndarray     # z = w·n // K
    residue: np.ndarray  # (w·n) mod K


def _big_tiles(table: CountryTiles, country: np.ndarray, n: np.ndarray) -> _BigTiles:
    threshold = -(-table.K // n)  # ceil(K / n): w ≥ threshold ⟺ w·n ≥ K
    count = table.count_at_least(country, threshold)
    pair = np.repeat(np.arange(len(n)), count)
    pos = _concatenated_ranges(table.start[country], count)
    scaled = table.weight[pos] * n[pair]
    return _BigTiles(count=count, pair=pair, pos=pos, base=scaled // table.K, residue=scaled % table.K)


def _largest_remainder_bumps(table, country, n, big, shortfall):
    """Top-S residues among the big tiles and the first S small tiles (already in (w desc, id asc))."""
    small_count = np.minimum(shortfall, table.size[country] - big.count)
    small_pair = np.repeat(np.arange(len(n)), small_count)
    small_pos = _concatenated_ranges(table.start[country] + big.count, small_count)
    pair = np.concatenate([big.pair, small_pair])
    pos = np.concatenate([big.pos, small_pos])
    residue = np.concatenate([big.residue, table.weight[small_pos] * n[small_pair]])
    order = np.lexsort((table.tile_id[pos], -residue, pair))
    pair, pos = pair[order], pos[order]
    chosen = _rank_within_groups(pair) < shortfall[pair]
    return pair[chosen], pos[chosen]


def _sampled_bumps(table, country, n, big, shortfall, pairs, seed, manifest_fingerprint):
    """S distinct tiles per pair, successive sampling ∝ residue via duplicate rejection.

    Draw j of a pair uses block j of its substream, lane x0, mapped to an integer t in [0, K·S) by
    t = floor(x0·K·S / 2^64). t below the big-tile residue mass picks a big tile by its cumulative
    residue; otherwise q = (t − R_big) // n indexes the country's cumulative weights after the big
    prefix. Draws that repeat a chosen tile are skipped; each round draws (deficit · 2^round) blocks so a
    pair with many rejections needs only O(log) rounds, and the accepted draws equal the first S
    distinct ones of the block sequence, exactly as a one-at-a-time loop would take them.
    """
    K = table.K
    residue_total = _segment_sums(big.residue, big.count)
    residue_cum = np.cumsum(big.residue)
    residue_before = np.concatenate([[0], residue_cum])[_offsets(big.count)]
    big_weight = _segment_sums(table.weight[big.pos], big.count)

    key, ctr_hi, ctr_lo = rng.substreams(seed, manifest_fingerprint, SAMPLE_LABEL,
                                         pairs["merchant_id"].to_numpy(), pairs["country_iso"].to_numpy())
    deficit = shortfall.copy()
    next_block = np.zeros(len(n), dtype=np.int64)
    blocks_used = np.zeros(len(n), dtype=np.int64)
    chosen_pair, chosen_pos = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for round_no in range(_MAX_SAMPLING_ROUNDS):
        active = np.flatnonzero(deficit > 0)
        if active.size == 0:
            break
        draws = deficit[active] << min(round_no, _MAX_OVERSAMPLE_DOUBLINGS)
        pair = np.repeat(active, draws)
        block = _concatenated_ranges(next_block[active], draws)
        x0, _ = rng.philox2x64(key[pair], *rng.add_to_counter(ctr_hi[pair], ctr_lo[pair], block))
        t = rng.mulhi(x0, (K * shortfall[pair]).astype(np.uint64)).astype(np.int64)
        in_big = t < residue_total[pair]
        pos = np.empty(len(pair), dtype=np.int64)
        pos[in_big] = big.pos[_searchsorted_right(residue_cum, residue_before[pair[in_big]] + t[in_big])]
        small = ~in_big
        q = (t[small] - residue_total[pair[small]]) // n[pair[small]]
        target = country[pair[small]] * K + big_weight[pair[small]] + q
        pos[small] = _searchsorted_right(table.cum_weight, target)

        accepted = _first_new_draws(pair, pos, np.concatenate(chosen_pair), np.concatenate(chosen_pos),
                                    deficit, len(table.tile_id))
        chosen_pair.append(pair[accepted])
        chosen_pos.append(pos[accepted])
        accepted_pair, accepted_block = pair[accepted], block[accepted]
        deficit -= np.bincount(accepted_pair, minlength=len(n))
        last = _group_ends(accepted_pair)  # rows are in block order within a pair
        blocks_used[accepted_pair[last]] = accepted_block[last] + 1
        next_block[active] += draws
    else:
        raise RuntimeError("weighted tile sampling did not finish; residues are degenerate")
    return np.concatenate(chosen_pair), np.concatenate(chosen_pos), blocks_used


def _first_new_draws(pair, pos, chosen_pair, chosen_pos, deficit, n_tiles) -> np.ndarray:
    """Mask of this round's draws to accept: the first draw of each tile not already chosen for the
    pair, in block order, at most `deficit` per pair. Draws arrive grouped by pair in block order."""
    relevant = deficit[chosen_pair] > 0
    n_old = int(relevant.sum())
    key = np.concatenate([chosen_pair[relevant] * n_tiles + chosen_pos[relevant], pair * n_tiles + pos])
    order = np.argsort(key, kind="stable")  # stable: earlier chosen, then earlier block, come first
    sorted_key = key[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = sorted_key[1:] != sorted_key[:-1]
    fresh = order[first]
    fresh = fresh[fresh >= n_old] - n_old

    mask = np.zeros(len(pair), dtype=bool)
    mask[fresh] = True
    rows = np.flatnonzero(mask)  # back in (pair, block) order
    mask[rows[_rank_within_groups(pair[rows]) >= deficit[pair[rows]]]] = False
    return mask


def _counts_frame(pairs, table, pair, pos, count) -> pd.DataFrame:
    key = pair * len(table.tile_id) + table.id_rank[pos]
    order = np.argsort(key)
    key, pair, pos, count = key[order], pair[order], pos[order], count[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]])) if len(key) else np.empty(0, np.int64)
    pair = pair[starts]
    return pd.DataFrame({
        "merchant_id": pairs["merchant_id"].to_numpy()[pair],
        "country_iso": pairs["country_iso"].to_numpy()[pair],
        "tile_id": table.tile_id[pos[starts]],
        "n_sites_tile": np.add.reduceat(count, starts) if len(starts) else count[:0],
    })


# --------------------------------------------------------------------------------------------
# Diagnostics (reference §2, S4 pair metrics)
# --------------------------------------------------------------------------------------------

def pair_diagnostics(alloc: pd.DataFrame, tile_counts) -> pd.DataFrame:
    """Per pair: n_sites, active_tiles, top1 = max/n, hhi = Σ(c/n)², and their floors.

    tile_counts: Series indexed by country_iso, or DataFrame[country_iso, n_tiles]; m = that count.
    With q, r = divmod(n, m): top1_floor = (q+1)/n if r > 0 else q/n; hhi_floor = (r(q+1)² + (m−r)q²)/n².
    """
    if isinstance(tile_counts, pd.DataFrame):
        tile_counts = tile_counts.set_index("country_iso")["n_tiles"]
    share = alloc.assign(c2=alloc["n_sites_tile"].astype(np.float64) ** 2)
    grouped = share.groupby(["merchant_id", "country_iso"], sort=True)
    out = grouped.agg(n_sites=("n_sites_tile", "sum"), active_tiles=("n_sites_tile", "size"),
                      max_tile=("n_sites_tile", "max"), sum_sq=("c2", "sum")).reset_index()
    n = out["n_sites"].to_numpy(dtype=np.int64)
    m = out["country_iso"].map(tile_counts).to_numpy(dtype=np.int64)
    q, r = np.divmod(n, m)
    out["top1"] = out.pop("max_tile") / n
    out["hhi"] = out.pop("sum_sq") / n.astype(np.float64) ** 2
    out["m_tiles"] = m
    out["top1_floor"] = np.where(r > 0, q + 1, q) / n
    out["hhi_floor"] = (r * (q + 1.0) ** 2 + (m - r) * q.astype(np.float64) ** 2) / n.astype(np.float64) ** 2
    return out


# --------------------------------------------------------------------------------------------
# Small array helpers
# --------------------------------------------------------------------------------------------

def _require_columns(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AllocationInputError(f"{name} is missing columns {missing}")


def _offsets(lengths: np.ndarray) -> np.ndarray:
    """Start of each segment in a concatenation of segments with these lengths."""
    return np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)


def _concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """concat(arange(s, s + l) for s, l in zip(starts, lengths)), without a Python loop."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    step = np.ones(total, dtype=np.int64)
    nonempty = lengths > 0
    seg_start = _offsets(lengths)[nonempty]
    first = np.asarray(starts, dtype=np.int64)[nonempty]
    prev_last = np.concatenate([[0], (first + lengths[nonempty] - 1)[:-1]])
    if total:
        step[seg_start] = first - prev_last
        step[0] = first[0]
    return np.cumsum(step)


def _segment_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Integer sum of each consecutive segment (zero for empty ones)."""
    cum = np.concatenate([[0], np.cumsum(values, dtype=np.int64)])
    ends = np.cumsum(lengths)
    return cum[ends] - cum[ends - lengths]


def _searchsorted_right(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """np.searchsorted(..., side="right"), with the needles sorted first: for millions of random
    needles into a large table this is several times faster (the lookups walk memory in order)."""
    order = np.argsort(needles)
    found = np.empty(len(needles), dtype=np.int64)
    found[order] = np.searchsorted(haystack, needles[order], side="right")
    return found


def _group_ends(group: np.ndarray) -> np.ndarray:
    """Index of the last row of each run of equal consecutive values."""
    if len(group) == 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.append(group[1:] != group[:-1], True))


def _rank_within_groups(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within runs of equal consecutive values."""
    if len(group) == 0:
        return np.empty(0, dtype=np.int64)
    new_run = np.ones(len(group), dtype=bool)
    new_run[1:] = group[1:] != group[:-1]
    run_start = np.flatnonzero(new_run)
    return np.arange(len(group)) - np.repeat(run_start, np.diff(np.append(run_start, len(group))))
