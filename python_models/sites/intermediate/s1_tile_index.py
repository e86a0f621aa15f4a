from gatehouse.sites.inputs import policy
from gatehouse.sites.dbt_steps.pipeline import tile_index
from gatehouse.spark.frames import on_spark, to_pandas


def model(dbt, session):
    """S1: the tiles of every country on the policy's grid (centre-in-polygon rule)."""
    countries = dbt.ref("stg_geo__countries")
    tiles_policy = policy.values_of(to_pandas(dbt.ref("raw_policy__tiles")))
    if on_spark(countries):  # one country per group, on the executors
        from gatehouse.spark.partitioned import per_group

        return per_group(countries, ["country_iso"], lambda rows: tile_index(rows, tiles_policy),
                         sample_order="length(geometry_wkb)")
    return tile_index(to_pandas(countries), tiles_policy)
