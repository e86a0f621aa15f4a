import numpy as np

from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import site_jitter
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import join, per_seed_and_country, select, to_pandas


def model(dbt, session):
    """S6: a point per site and seed inside its tile and its country polygon (policy mode, per-site substream)."""
    seeds = SitesInputs.from_config(dbt.config.get("sites_inputs")).seeds
    fingerprint = to_pandas(dbt.ref("s0_gate_receipt"))["manifest_fingerprint"].iloc[0]
    countries = to_pandas(select(dbt.ref("stg_geo__countries"), None, ["country_iso", "geometry_wkb"]))
    places = to_pandas(dbt.ref("stg_geo__places"))
    res_deg = policy.values_of(to_pandas(dbt.ref("raw_policy__tiles")))["res_deg"]
    jitter_policy = policy.values_of(to_pandas(dbt.ref("raw_policy__jitter")))
    sites = join(dbt.ref("s5_site_tile_assignment"), dbt.ref("s1_tile_index"),
                 "s.legal_country_iso = t.country_iso and s.tile_id = t.tile_id",
                 ["s.seed", "s.merchant_id", "s.legal_country_iso", "s.site_order", "s.tile_id", "t.min_lon",
                  "t.max_lon", "t.min_lat", "t.max_lat", "t.centroid_lon", "t.centroid_lat"], aliases=("s", "t"))

    def placed(rows, seed):
        return (site_jitter(rows.drop(columns="seed"), countries, places, jitter_policy, seed, fingerprint, res_deg)
                .assign(seed=np.uint64(seed), manifest_fingerprint=fingerprint))

    return per_seed_and_country(sites, seeds, placed, sample_order="site_order")  # each site has its own substream
