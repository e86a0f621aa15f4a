import numpy as np
import pandas as pd

from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import alloc_plan, require_tiles
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import on_spark, select, to_pandas


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

    if on_spark(requirements):  # per (seed, country) on the executors: a pair's plan depends on its country only
        from gatehouse.spark.partitioned import per_group

        require_tiles(to_pandas(select(requirements, None, ["legal_country_iso"], distinct=True))["legal_country_iso"],
                      weights["country_iso"])
        return per_group(requirements, ["seed", "legal_country_iso"], lambda pairs: plan(pairs, int(pairs["seed"].iloc[0])),
                         sample_order="n_sites")
    requirements = to_pandas(requirements)
    return pd.concat([plan(requirements[requirements.seed == seed], seed) for seed in seeds], ignore_index=True)
