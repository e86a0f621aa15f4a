from gatehouse.sites import policy
from gatehouse.sites.pipeline import tile_index


def model(dbt, session):
    """S1: the tiles of every country on the policy's grid (centre-in-polygon rule)."""
    countries = dbt.ref("stg_geo__countries").df()
    tiles_policy = dbt.ref("raw_policy__tiles").df()
    return tile_index(countries, policy.values_of(tiles_policy))
