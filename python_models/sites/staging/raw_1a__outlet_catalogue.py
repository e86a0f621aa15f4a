from gatehouse.sites.dbt_steps.sources import SitesInputs, catalogue_table, country_frame
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """The 1A outlet catalogue: a validated user parquet, or the seeded surrogate generator."""
    inputs = SitesInputs.from_config(dbt.config.get("sites_inputs"))
    countries = country_frame(to_pandas(dbt.ref("stg_geo__countries")))
    places = to_pandas(dbt.ref("stg_geo__places"))
    iso_codes = to_pandas(dbt.ref("stg_geo__iso_codes"))
    return catalogue_table(inputs, countries, places, set(iso_codes["country_iso"]))
