import numpy as np
import pandas as pd

from gatehouse.sites import policy
from gatehouse.sites.pipeline import alloc_plan
from gatehouse.sites.sources import SitesInputs


def model(dbt, session):
    """S4: integer tile counts per (merchant, legal country) pair and seed (RNG for weighted_sample_v2)."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    receipt = dbt.ref("s0_gate_receipt").df()
    requirements = dbt.ref("s3_requirements").df()
    weights = dbt.ref("s2_tile_weights").project("country_iso, tile_id, weight_fp, dp").df()
    alloc_policy = dbt.ref("raw_policy__alloc_plan").df()
    fingerprint = receipt["manifest_fingerprint"].iloc[0]
    plans = [alloc_plan(requirements[requirements.seed == seed], weights, policy.values_of(alloc_policy), seed, fingerprint)
             .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint) for seed in seeds]
    return pd.concat(plans, ignore_index=True)
