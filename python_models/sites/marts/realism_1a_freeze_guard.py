import numpy as np
import pandas as pd

from gatehouse.sites.inputs.freeze import evaluate_catalogues, guard_table
from gatehouse.sites.dbt_steps.sources import SitesInputs, country_frame
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """1A freeze guard per 1B seed: the catalogue's 1A metrics against the frozen authority and its
    country mix (P-1/P-2), one row per (seed, metric)."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    catalogue = to_pandas(dbt.ref("stg_1a__outlet_catalogue"))
    countries = country_frame(to_pandas(dbt.ref("stg_geo__countries")))
    places = to_pandas(dbt.ref("stg_geo__places")) if inputs.catalogue_path is None else None  # surrogate phi
    results = evaluate_catalogues(inputs, catalogue, countries, places)
    return pd.concat([guard_table(result).assign(seed=np.uint64(seed)) for seed, result in results.items()],
                     ignore_index=True)
