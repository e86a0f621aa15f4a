from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import country_rebalance
from gatehouse.spark.frames import select, to_pandas


def model(dbt, session):
    """S2 diagnostic: the reference's country rebalance. Never applied: 1A fixes per-country counts."""
    tiles = to_pandas(select(dbt.ref("s1_tile_index"), None, ["country_iso", "tile_id", "area_m2"]))
    places = to_pandas(dbt.ref("stg_geo__places"))
    countries = to_pandas(select(dbt.ref("stg_geo__countries"), None, ["country_iso", "macro_region"]))
    tiles_policy = to_pandas(dbt.ref("raw_policy__tiles"))
    weights_policy = to_pandas(dbt.ref("raw_policy__tile_weights"))
    return country_rebalance(tiles, places, countries, policy.values_of(weights_policy),
                             policy.values_of(tiles_policy)["res_deg"])
