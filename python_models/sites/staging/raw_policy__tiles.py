import pandas as pd

from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.sources import SitesInputs


def model(dbt, session):
    """The governed policy file tiles.yaml: bytes as hashed into parameter_hash, validated values as JSON."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    return pd.DataFrame([policy.load(inputs.policy_dir, "tiles").row()])
