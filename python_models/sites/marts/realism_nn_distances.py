import pandas as pd

from gatehouse.sites.kernels.nearest import nearest_neighbour_m
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """Great-circle distance (m) from each site to the nearest other site of the same seed, all countries."""
    sites = to_pandas(dbt.ref("int_realism_sites"))
    per_seed = []
    for seed, group in sites.sort_values(["seed", "merchant_id", "legal_country_iso", "site_order"]).groupby("seed"):
        distances = nearest_neighbour_m(group["lat_deg"].to_numpy(), group["lon_deg"].to_numpy())
        per_seed.append(group[["seed", "merchant_id", "legal_country_iso", "site_order"]].assign(nn_m=distances))
    return pd.concat(per_seed, ignore_index=True)
