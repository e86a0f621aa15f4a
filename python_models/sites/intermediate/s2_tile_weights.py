from gatehouse.sites import policy
from gatehouse.sites.pipeline import tile_weights


def model(dbt, session):
    """S2: blend_v2 tile mass quantised to integer weights summing to 10^dp per country."""
    tiles = dbt.ref("s1_tile_index").project("country_iso, tile_id, area_m2").df()
    places = dbt.ref("stg_geo__places").df()
    tiles_policy = dbt.ref("raw_policy__tiles").df()
    weights_policy = dbt.ref("raw_policy__tile_weights").df()
    return tile_weights(tiles, places, policy.values_of(weights_policy), policy.values_of(tiles_policy)["res_deg"])
