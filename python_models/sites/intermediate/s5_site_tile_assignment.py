import numpy as np

from gatehouse.sites.dbt_steps.pipeline import site_assignment
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import per_seed_and_country, select, to_pandas


def model(dbt, session):
    """S5: one tile per site and seed; one Philox draw per site from the pair's site_tile_assign substream."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    fingerprint = to_pandas(dbt.ref("s0_gate_receipt"))["manifest_fingerprint"].iloc[0]
    plan = select(dbt.ref("s4_alloc_plan"), None, ["seed", "merchant_id", "legal_country_iso", "tile_id", "n_sites_tile"])

    def assigned(rows, seed):
        return (site_assignment(rows.drop(columns="seed"), seed, fingerprint)
                .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint))

    return per_seed_and_country(plan, seeds, assigned, sample_order="n_sites_tile")  # draws keyed by the pair
