import pandas as pd

from gatehouse.sites.dbt_steps.sources import SitesInputs, sealed_inputs
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """S0: every input of the build with the name and SHA-256 lineage hashes it under."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    policies = pd.concat([
        to_pandas(dbt.ref("raw_policy__tiles")),
        to_pandas(dbt.ref("raw_policy__tile_weights")),
        to_pandas(dbt.ref("raw_policy__requirements")),
        to_pandas(dbt.ref("raw_policy__alloc_plan")),
        to_pandas(dbt.ref("raw_policy__jitter")),
    ])
    return sealed_inputs(inputs, policies.to_dict("records"))
