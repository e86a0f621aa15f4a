import numpy as np

from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import alloc_plan, require_tiles
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import per_seed_and_country, select, to_pandas


def model(dbt, session):
    """S4: integer tile counts per (merchant, legal country) pair and seed (RNG for weighted_sample_v2)."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    fingerprint = to_pandas(dbt.ref("s0_gate_receipt"))["manifest_fingerprint"].iloc[0]
    requirements = select(dbt.ref("s3_requirements"), None, ["seed", "merchant_id", "legal_country_iso", "n_sites"])
    weights = to_pandas(select(dbt.ref("s2_tile_weights"), None, ["country_iso", "tile_id", "weight_fp", "dp"]))
    alloc_policy = policy.values_of(to_pandas(dbt.ref("raw_policy__alloc_plan")))

    def plan(pairs, seed):
        return (alloc_plan(pairs, weights, alloc_policy, seed, fingerprint)
                .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint))

    # checked once for all pairs, so both engines name every untiled country, not a pair's
    require_tiles(to_pandas(select(requirements, None, ["legal_country_iso"], distinct=True))["legal_country_iso"],
                  weights["country_iso"])
    return per_seed_and_country(requirements, seeds, plan, sample_order="n_sites")
