from gatehouse.sites.dbt_steps.sources import places_table


def model(dbt, session):
    """GeoNames populated places (cities500, every population)."""
    return places_table()
