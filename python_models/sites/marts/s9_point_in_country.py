from gatehouse.sites.dbt_steps.pipeline import point_in_country
from gatehouse.spark.frames import select, to_pandas


def model(dbt, session):
    """S9: every published site re-checked against its legal country's polygon (inside or on the boundary)."""
    sites = to_pandas(dbt.ref("site_locations"))
    countries = to_pandas(select(dbt.ref("stg_geo__countries"), None, ["country_iso", "geometry_wkb"]))
    return point_in_country(sites, countries)
