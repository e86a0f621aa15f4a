"""S5 site → tile assignment: counts preserved, one row per site, and a per-pair loop oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gatehouse.sites.kernels import rng
from gatehouse.sites.kernels.assign import ASSIGN_LABEL, AssignmentInputError, assign_sites

MF = "cd" * 32


def small_plan(seed: int = 0, n_pairs: int = 40) -> pd.DataFrame:
    gen = np.random.default_rng(seed)
    rows = []
    for p in range(n_pairs):
        merchant, iso = int(gen.integers(1, 10**12)), str(gen.choice(["DE", "FR", "BR", "ZA"]))
        tiles = gen.choice(10**6, size=int(gen.integers(1, 6)), replace=False)
        rows += [(merchant, iso, int(t), int(gen.integers(1, 5))) for t in tiles]
    plan = pd.DataFrame(rows, columns=["merchant_id", "country_iso", "tile_id", "n_sites_tile"])
    return plan.drop_duplicates(["merchant_id", "country_iso", "tile_id"]).reset_index(drop=True)


def oracle_pair(merchant: int, iso: str, quotas: dict[int, int], seed: int) -> dict[int, tuple[int, float]]:
    """Plain per-pair loop: site_order → (tile_id, u)."""
    n = sum(quotas.values())
    key, hi, lo = rng.substreams(seed, MF, ASSIGN_LABEL, [merchant], [iso])
    u = rng.draw_uniforms(key, hi, lo, n_blocks=n)[0, :, 0]  # block k-1 for site k, low lane
    multiset = [t for t in sorted(quotas) for _ in range(quotas[t])]
    sites_by_draw = sorted(range(1, n + 1), key=lambda k: (u[k - 1], k))
    return {k: (tile, float(u[k - 1])) for k, tile in zip(sites_by_draw, multiset)}


def test_matches_per_pair_oracle():
    plan = small_plan()
    sites = assign_sites(plan, 42, MF)
    for (merchant, iso), group in plan.groupby(["merchant_id", "country_iso"]):
        expected = oracle_pair(merchant, iso, dict(zip(group["tile_id"], group["n_sites_tile"])), 42)
        got = sites[(sites["merchant_id"] == merchant) & (sites["country_iso"] == iso)]
        assert {k: (t, u) for k, t, u in got[["site_order", "tile_id", "u"]].itertuples(index=False)} == expected


def test_counts_preserved_and_one_row_per_site():
    plan = small_plan(seed=1)
    sites = assign_sites(plan, 42, MF)
    assert len(sites) == plan["n_sites_tile"].sum()
    counts = sites.groupby(["merchant_id", "country_iso", "tile_id"]).size()
    assert counts.to_dict() == plan.set_index(["merchant_id", "country_iso", "tile_id"])["n_sites_tile"].to_dict()
    orders = sites.groupby(["merchant_id", "country_iso"])["site_order"]
    assert (orders.min() == 1).all() and (orders.max() == orders.size()).all()
    assert (orders.nunique() == orders.size()).all()
    assert list(sites.columns) == ["merchant_id", "country_iso", "site_order", "tile_id", "u"]
    assert ((sites["u"] > 0) & (sites["u"] < 1)).all()


def test_deterministic_and_independent_of_row_order():
    plan = small_plan(seed=2)
    first = assign_sites(plan, 42, MF)
    pd.testing.assert_frame_equal(first, assign_sites(plan.sample(frac=1, random_state=3), 42, MF))
    assert not first["u"].equals(assign_sites(plan, 43, MF)["u"])


def test_one_pair_alone_equals_batch():
    plan = small_plan(seed=4)
    batch = assign_sites(plan, 42, MF)
    merchant, iso = plan.iloc[0][["merchant_id", "country_iso"]]
    only = plan[(plan["merchant_id"] == merchant) & (plan["country_iso"] == iso)]
    alone = assign_sites(only, 42, MF)
    part = batch[(batch["merchant_id"] == merchant) & (batch["country_iso"] == iso)].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, part)


def test_rejects_duplicate_plan_rows():
    plan = small_plan(seed=5)
    with pytest.raises(AssignmentInputError, match="duplicate"):
        assign_sites(pd.concat([plan, plan.head(1)]), 42, MF)
