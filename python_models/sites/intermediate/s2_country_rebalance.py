from gatehouse.sites import policy
from gatehouse.sites.pipeline import country_rebalance


def model(dbt, session):
    """S2 diagnostic: the reference's country rebalance. Never applied: 1A fixes per-country counts."""
    tiles = dbt.ref("s1_tile_index").project("country_iso, tile_id, area_m2").df()
    places = dbt.ref("stg_geo__places").df()
    countries = dbt.ref("stg_geo__countries").project("country_iso, macro_region").df()
    tiles_policy = dbt.ref("raw_policy__tiles").df()
    weights_policy = dbt.ref("raw_policy__tile_weights").df()
    return country_rebalance(tiles, places, countries, policy.values_of(weights_policy),
                             policy.values_of(tiles_policy)["res_deg"])
