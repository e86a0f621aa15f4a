import numpy as np
import pandas as pd

from gatehouse.sites.dbt_steps.pipeline import site_assignment
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import select, to_pandas


def model(dbt, session):
    """S5: one tile per site and seed; one Philox draw per site from the pair's site_tile_assign substream."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    receipt = to_pandas(dbt.ref("s0_gate_receipt"))
    fingerprint = receipt["manifest_fingerprint"].iloc[0]
    plan = to_pandas(select(dbt.ref("s4_alloc_plan"), None, ["seed", "merchant_id", "legal_country_iso", "tile_id", "n_sites_tile"]))
    assigned = [site_assignment(plan[plan.seed == seed].drop(columns="seed"), seed, fingerprint)
                .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint) for seed in seeds]
    return pd.concat(assigned, ignore_index=True)
