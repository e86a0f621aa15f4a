from gatehouse.sites.dbt_steps.sources import iso_codes_table


def model(dbt, session):
    """The ISO 3166 country list (GeoNames countryInfo) that every catalogue code must belong to."""
    return iso_codes_table()
