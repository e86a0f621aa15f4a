import pandas as pd

from gatehouse.sites.sources import SitesInputs, sealed_inputs


def model(dbt, session):
    """S0: every input of the build with the name and SHA-256 lineage hashes it under."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    policies = pd.concat([
        dbt.ref("raw_policy__tiles").df(),
        dbt.ref("raw_policy__tile_weights").df(),
        dbt.ref("raw_policy__requirements").df(),
        dbt.ref("raw_policy__alloc_plan").df(),
        dbt.ref("raw_policy__jitter").df(),
    ])
    return sealed_inputs(inputs, policies.to_dict("records"))
