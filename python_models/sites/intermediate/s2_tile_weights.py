from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import tile_weights
from gatehouse.spark.frames import select, to_pandas


def model(dbt, session):
    """S2: blend_v2 tile mass quantised to integer weights summing to 10^dp per country."""
    tiles = to_pandas(select(dbt.ref("s1_tile_index"), None, ["country_iso", "tile_id", "area_m2"]))
    places = to_pandas(dbt.ref("stg_geo__places"))
    tiles_policy = to_pandas(dbt.ref("raw_policy__tiles"))
    weights_policy = to_pandas(dbt.ref("raw_policy__tile_weights"))
    return tile_weights(tiles, places, policy.values_of(weights_policy), policy.values_of(tiles_policy)["res_deg"])
