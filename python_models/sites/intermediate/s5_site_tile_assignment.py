import numpy as np

from gatehouse.sites.pipeline import site_assignment
from gatehouse.sites.sources import SitesInputs


def model(dbt, session):
    """S5: one tile per site; one Philox draw per site from the pair's site_tile_assign substream."""
    seed = SitesInputs.from_config(dbt.config.get("sites_inputs")).seed
    receipt = dbt.ref("s0_gate_receipt").df()
    fingerprint = receipt["manifest_fingerprint"].iloc[0]
    plan = dbt.ref("s4_alloc_plan").project("merchant_id, legal_country_iso, tile_id, n_sites_tile").df()
    return site_assignment(plan, seed, fingerprint).assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint)
