import numpy as np
import pandas as pd

from gatehouse.sites.dbt_steps.pipeline import site_assignment
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import on_spark, select, to_pandas


def model(dbt, session):
    """S5: one tile per site and seed; one Philox draw per site from the pair's site_tile_assign substream."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    fingerprint = to_pandas(dbt.ref("s0_gate_receipt"))["manifest_fingerprint"].iloc[0]
    plan = select(dbt.ref("s4_alloc_plan"), None, ["seed", "merchant_id", "legal_country_iso", "tile_id", "n_sites_tile"])

    def assigned(rows, seed):
        return (site_assignment(rows.drop(columns="seed"), seed, fingerprint)
                .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint))

    if on_spark(plan):  # per (seed, country) on the executors: draws are keyed by the pair
        from gatehouse.spark.partitioned import per_group

        return per_group(plan, ["seed", "legal_country_iso"], lambda rows: assigned(rows, int(rows["seed"].iloc[0])),
                         sample_order="n_sites_tile")
    plan = to_pandas(plan)
    return pd.concat([assigned(plan[plan.seed == seed], seed) for seed in seeds], ignore_index=True)
