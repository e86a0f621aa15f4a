from gatehouse.sites.sources import SitesInputs, catalogue_table, country_frame


def model(dbt, session):
    """The 1A outlet catalogue: a validated user parquet, or the seeded surrogate generator."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    countries = country_frame(dbt.ref("stg_geo__countries").df())
    places = dbt.ref("stg_geo__places").df()
    iso_codes = dbt.ref("stg_geo__iso_codes").df()
    return catalogue_table(inputs, countries, places, set(iso_codes["country_iso"]))
