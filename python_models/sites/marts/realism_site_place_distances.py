import pandas as pd

from gatehouse.sites.kernels.plausibility import nearest_reference_by_group_m, nearest_reference_m, parameter
from gatehouse.spark.frames import on_spark, select, to_pandas

SITE_KEY = ["seed", "merchant_id", "legal_country_iso", "site_order"]


def model(dbt, session):
    """Per (seed, site): metres to the nearest GeoNames place (any country, any population) and to the
    nearest city (population >= city_min_population) of the site's legal country (null if it has none)."""
    sites = select(dbt.ref("int_realism_sites"), None, SITE_KEY + ["lat_deg", "lon_deg"])
    places = to_pandas(dbt.ref("stg_geo__places")).sort_values("geonameid", kind="stable")
    city_min_population = parameter(to_pandas(dbt.ref("plausibility_parameters")), "city_min_population")
    cities = places.loc[places["population"] >= city_min_population]

    def distances(sites: pd.DataFrame) -> pd.DataFrame:
        sites = sites.sort_values(SITE_KEY, kind="stable").reset_index(drop=True)
        lat, lon = sites["lat_deg"].to_numpy(), sites["lon_deg"].to_numpy()
        place_m = nearest_reference_m(lat, lon, places["lat_deg"].to_numpy(), places["lon_deg"].to_numpy())
        city_m = nearest_reference_by_group_m(sites["legal_country_iso"].to_numpy(), lat, lon,
                                              cities["country_iso"].to_numpy(), cities["lat_deg"].to_numpy(),
                                              cities["lon_deg"].to_numpy())
        return sites[SITE_KEY].assign(nearest_place_m=pd.array(place_m, dtype="Float64"),
                                      nearest_city_m=pd.array(city_m, dtype="Float64"))

    if on_spark(sites):  # one seed per group on the executors (one search tree of the places per group)
        from gatehouse.spark.partitioned import per_group

        return per_group(sites, ["seed"], distances, sample_order="seed")
    return distances(to_pandas(sites))
