"""S5: assign each site of a (merchant, country) pair to one tile of its S4 allocation.

Per pair (reference §3 S5): expand the quotas into a tile multiset sorted by ascending tile_id; give
site k (site_order 1..N) the uniform u_k = u01(x0 of block k−1) of the pair's `site_tile_assign`
substream; sort the sites by (u, site_order) and hand them the multiset in order. Only which site gets
which tile is random; the per-tile counts are those of S4. Vectorised across all pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gatehouse.sites.kernels import rng

ASSIGN_LABEL = "site_tile_assign"
BLOCKS_PER_SITE = 1  # one Philox block per site, low lane x0


class AssignmentInputError(ValueError):
    """The allocation plan handed to S5 is malformed."""


def assign_sites(alloc: pd.DataFrame, seed: int, manifest_fingerprint: str) -> pd.DataFrame:
    """alloc[merchant_id, country_iso, tile_id, n_sites_tile ≥ 1] →
    [merchant_id, country_iso, site_order, tile_id, u], one row per site, sorted by
    (merchant_id, country_iso, site_order). `u` is the draw used (one per site, for RNG accounting).
    """
    rows, pair_key = _plan_order(alloc)
    quota = alloc["n_sites_tile"].to_numpy(dtype=np.int64)[rows]
    pair_start = _run_starts(pair_key)
    pair_size = np.add.reduceat(quota, pair_start) if len(quota) else quota
    pair_row = rows[pair_start]  # a representative input row per pair

    tile_multiset = np.repeat(alloc["tile_id"].to_numpy()[rows], quota)  # pair-major, tile_id ascending
    site_pair = np.repeat(np.arange(len(pair_start)), pair_size)
    site_order = _rank_within_runs(site_pair) + 1

    merchants = alloc["merchant_id"].to_numpy()[pair_row]
    isos = alloc["country_iso"].to_numpy()[pair_row]
    key, ctr_hi, ctr_lo = rng.substreams(seed, manifest_fingerprint, ASSIGN_LABEL, merchants, isos)
    x0, _ = rng.philox2x64(key[site_pair],
                           *rng.add_to_counter(ctr_hi[site_pair], ctr_lo[site_pair], site_order - 1))
    u = rng.u01(x0)

    # lexsort is stable and the rows are already in site_order within a pair: ties in u keep it.
    by_draw = np.lexsort((u, site_pair))
    tile_id = np.empty_like(tile_multiset)
    tile_id[by_draw] = tile_multiset
    return pd.DataFrame({
        "merchant_id": merchants[site_pair],
        "country_iso": alloc["country_iso"].array.take(pair_row[site_pair]),
        "site_order": site_order,
        "tile_id": tile_id,
        "u": u,
    })


def _plan_order(alloc: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Validated row order by (merchant_id, country_iso, tile_id), and an ordered pair key per row."""
    missing = [c for c in ("merchant_id", "country_iso", "tile_id", "n_sites_tile") if c not in alloc.columns]
    if missing:
        raise AssignmentInputError(f"allocation plan is missing columns {missing}")
    if (alloc["n_sites_tile"] < 1).any():
        raise AssignmentInputError("n_sites_tile must be ≥ 1")
    merchant_code, _ = pd.factorize(alloc["merchant_id"], sort=True)
    iso_code, isos = pd.factorize(alloc["country_iso"], sort=True)
    pair_key = merchant_code.astype(np.int64) * max(len(isos), 1) + iso_code
    tile = alloc["tile_id"].to_numpy()
    if _strictly_increasing(pair_key, tile):  # the usual case: S4 output is already in key order
        rows = np.arange(len(tile))
    else:
        rows = np.lexsort((tile, pair_key))
        if not _strictly_increasing(pair_key[rows], tile[rows]):
            raise AssignmentInputError("duplicate (merchant_id, country_iso, tile_id) in the allocation plan")
    return rows, pair_key[rows]


def _strictly_increasing(major: np.ndarray, minor: np.ndarray) -> bool:
    d_major = np.diff(major)
    return bool(np.all((d_major > 0) | ((d_major == 0) & (minor[1:] > minor[:-1]))))


def _run_starts(values: np.ndarray) -> np.ndarray:
    """Start index of each run of equal consecutive values."""
    if len(values) == 0:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))


def _rank_within_runs(group: np.ndarray) -> np.ndarray:
    starts = _run_starts(group)
    lengths = np.diff(np.append(starts, len(group)))
    return np.arange(len(group)) - np.repeat(starts, lengths)
