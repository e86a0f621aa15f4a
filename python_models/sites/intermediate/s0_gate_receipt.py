from gatehouse.sites.pipeline import gate_receipt
from gatehouse.sites.sources import SitesInputs


def model(dbt, session):
    """S0: verify the 1A bundle (when given) and derive parameter_hash and manifest_fingerprint."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    sealed = dbt.ref("s0_sealed_inputs").df()
    upstream = dbt.ref("stg_1a__outlet_catalogue").project(
        "upstream_manifest_fingerprint, upstream_seed").distinct().df()
    return gate_receipt(inputs, sealed, upstream)
