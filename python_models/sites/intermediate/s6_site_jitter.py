import numpy as np
import pandas as pd

from gatehouse.sites import policy
from gatehouse.sites.pipeline import site_jitter
from gatehouse.sites.sources import SitesInputs


def model(dbt, session):
    """S6: a point per site and seed inside its tile and its country polygon (policy mode, per-site substream)."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    receipt = dbt.ref("s0_gate_receipt").df()
    assigned = dbt.ref("s5_site_tile_assignment").set_alias("s")
    tiles = dbt.ref("s1_tile_index").set_alias("t")
    countries = dbt.ref("stg_geo__countries").project("country_iso, geometry_wkb").df()
    places = dbt.ref("stg_geo__places").df()
    tiles_policy = dbt.ref("raw_policy__tiles").df()
    jitter_policy = dbt.ref("raw_policy__jitter").df()

    sites = assigned.join(tiles, "s.legal_country_iso = t.country_iso and s.tile_id = t.tile_id").project(
        "s.seed, s.merchant_id, s.legal_country_iso, s.site_order, s.tile_id, t.min_lon, t.max_lon, t.min_lat, "
        "t.max_lat, t.centroid_lon, t.centroid_lat").df()
    fingerprint = receipt["manifest_fingerprint"].iloc[0]
    placed = [site_jitter(sites[sites.seed == seed].drop(columns="seed"), countries, places,
                          policy.values_of(jitter_policy), seed, fingerprint, policy.values_of(tiles_policy)["res_deg"])
              .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint) for seed in seeds]
    return pd.concat(placed, ignore_index=True)
