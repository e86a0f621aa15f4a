from gatehouse.criticality.lattice_tables import avalanche_components_table


def model(dbt, session):
    """Connected components of X per sequence (§8), 4- and 8-neighbour adjacency."""
    sites = dbt.ref("int_raster_sites").fetchnumpy()
    conditions = dbt.ref("int_raster_conditions").df()
    return avalanche_components_table(sites, conditions)
