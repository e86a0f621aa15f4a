import pandas as pd

from gatehouse.sites.kernels.realism import bootstrap_concentration
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """95% bootstrap intervals of Gini and top-k shares per seed (sites resampled with replacement)."""
    counts = to_pandas(dbt.ref("int_realism_country_counts")).sort_values(["seed", "country_iso"])
    tables = [bootstrap_concentration(group["n_sites"].to_numpy(), seed=int(seed)).assign(seed=seed)
              for seed, group in counts.groupby("seed")]
    return pd.concat(tables, ignore_index=True)[["seed", "metric", "value", "ci_low", "ci_high", "reps"]]
