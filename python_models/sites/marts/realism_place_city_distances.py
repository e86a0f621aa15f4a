import pandas as pd

from gatehouse.sites.kernels.plausibility import nearest_reference_by_group_m, parameter
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """Per GeoNames place: metres to the nearest city (population >= city_min_population) of its own country,
    0 for a city itself, null when the country has no city."""
    places = to_pandas(dbt.ref("stg_geo__places")).sort_values("geonameid", kind="stable").reset_index(drop=True)
    city_min_population = parameter(to_pandas(dbt.ref("plausibility_parameters")), "city_min_population")
    cities = places.loc[places["population"] >= city_min_population]
    city_m = nearest_reference_by_group_m(places["country_iso"].to_numpy(), places["lat_deg"].to_numpy(),
                                          places["lon_deg"].to_numpy(), cities["country_iso"].to_numpy(),
                                          cities["lat_deg"].to_numpy(), cities["lon_deg"].to_numpy())
    return places[["geonameid", "country_iso", "population"]].assign(nearest_city_m=pd.array(city_m, dtype="Float64"))
