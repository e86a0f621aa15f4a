from gatehouse.criticality.lattice_tables import avalanche_components_table
from gatehouse.spark.frames import to_numpy, to_pandas


def model(dbt, session):
    """Connected components of X per sequence (§8), 4- and 8-neighbour adjacency."""
    sites = to_numpy(dbt.ref("int_raster_sites"))
    conditions = to_pandas(dbt.ref("int_raster_conditions"))
    return avalanche_components_table(sites, conditions)
