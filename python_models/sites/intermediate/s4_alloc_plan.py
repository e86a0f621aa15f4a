import numpy as np
import pandas as pd

from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import alloc_plan
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import select, to_pandas


def model(dbt, session):
    """S4: integer tile counts per (merchant, legal country) pair and seed (RNG for weighted_sample_v2)."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    receipt = to_pandas(dbt.ref("s0_gate_receipt"))
    requirements = to_pandas(dbt.ref("s3_requirements"))
    weights = to_pandas(select(dbt.ref("s2_tile_weights"), None, ["country_iso", "tile_id", "weight_fp", "dp"]))
    alloc_policy = to_pandas(dbt.ref("raw_policy__alloc_plan"))
    fingerprint = receipt["manifest_fingerprint"].iloc[0]
    plans = [alloc_plan(requirements[requirements.seed == seed], weights, policy.values_of(alloc_policy), seed, fingerprint)
             .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint) for seed in seeds]
    return pd.concat(plans, ignore_index=True)
