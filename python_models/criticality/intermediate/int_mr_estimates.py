from gatehouse.criticality.lattice_tables import mr_table


def model(dbt, session):
    """Multistep-regression branching estimates per condition: along tokens and along layers."""
    sites = dbt.ref("int_raster_sites").fetchnumpy()
    conditions = dbt.ref("int_raster_conditions").df()
    return mr_table(sites, conditions)
