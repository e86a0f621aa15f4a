from gatehouse.sites.pipeline import point_in_country


def model(dbt, session):
    """S9: every published site re-checked against its legal country's polygon (inside or on the boundary)."""
    sites = dbt.ref("site_locations").df()
    countries = dbt.ref("stg_geo__countries").project("country_iso, geometry_wkb").df()
    return point_in_country(sites, countries)
