import pandas as pd

from gatehouse.sites.kernels.nearest import nearest_neighbour_m
from gatehouse.spark.frames import on_spark, select, to_pandas

SITE_KEY = ["seed", "merchant_id", "legal_country_iso", "site_order"]


def model(dbt, session):
    """Great-circle distance (m) from each site to the nearest other site of the same seed, all countries."""
    sites = select(dbt.ref("int_realism_sites"), None, SITE_KEY + ["lat_deg", "lon_deg"])
    if on_spark(sites):  # one seed per group on the executors (a site's neighbour may be in any country)
        from gatehouse.spark.partitioned import per_group

        return per_group(sites, ["seed"], nearest_in_seed, sample_order="seed")
    sites = to_pandas(sites)
    return pd.concat([nearest_in_seed(group) for _, group in sites.groupby("seed")], ignore_index=True)


def nearest_in_seed(group: pd.DataFrame) -> pd.DataFrame:
    group = group.sort_values(SITE_KEY)
    distances = nearest_neighbour_m(group["lat_deg"].to_numpy(), group["lon_deg"].to_numpy())
    return group[SITE_KEY].assign(nn_m=distances)
