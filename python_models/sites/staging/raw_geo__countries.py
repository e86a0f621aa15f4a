from gatehouse.sites.dbt_steps.sources import SitesInputs, countries_table


def model(dbt, session):
    """Natural Earth 10m admin-0 countries, one row per ISO2 code, polygon as WKB."""
    return countries_table(SitesInputs.from_config(dbt.config.get("sites_inputs")))
