from gatehouse.sites.dbt_steps.pipeline import gate_receipt
from gatehouse.sites.dbt_steps.sources import SitesInputs
from gatehouse.spark.frames import select, to_pandas


def model(dbt, session):
    """S0: verify the 1A bundle (when given) and derive parameter_hash and manifest_fingerprint."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    sealed = to_pandas(dbt.ref("s0_sealed_inputs"))
    upstream = to_pandas(select(dbt.ref("stg_1a__outlet_catalogue"), None,
                                ["upstream_manifest_fingerprint", "upstream_seed"], distinct=True))
    return gate_receipt(inputs, sealed, upstream)
