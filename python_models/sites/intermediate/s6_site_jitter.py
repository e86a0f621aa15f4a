import numpy as np
import pandas as pd

from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import site_jitter
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import join, select, to_pandas


def model(dbt, session):
    """S6: a point per site and seed inside its tile and its country polygon (policy mode, per-site substream)."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    receipt = to_pandas(dbt.ref("s0_gate_receipt"))
    countries = to_pandas(select(dbt.ref("stg_geo__countries"), None, ["country_iso", "geometry_wkb"]))
    places = to_pandas(dbt.ref("stg_geo__places"))
    tiles_policy = to_pandas(dbt.ref("raw_policy__tiles"))
    jitter_policy = to_pandas(dbt.ref("raw_policy__jitter"))

    sites = to_pandas(join(dbt.ref("s5_site_tile_assignment"), dbt.ref("s1_tile_index"),
                           "s.legal_country_iso = t.country_iso and s.tile_id = t.tile_id",
                           ["s.seed", "s.merchant_id", "s.legal_country_iso", "s.site_order", "s.tile_id", "t.min_lon",
                            "t.max_lon", "t.min_lat", "t.max_lat", "t.centroid_lon", "t.centroid_lat"], aliases=("s", "t")))
    fingerprint = receipt["manifest_fingerprint"].iloc[0]
    placed = [site_jitter(sites[sites.seed == seed].drop(columns="seed"), countries, places,
                          policy.values_of(jitter_policy), seed, fingerprint, policy.values_of(tiles_policy)["res_deg"])
              .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint) for seed in seeds]
    return pd.concat(placed, ignore_index=True)
