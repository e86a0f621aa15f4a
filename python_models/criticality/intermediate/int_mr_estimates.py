from gatehouse.criticality.lattice_tables import mr_table
from gatehouse.spark.frames import to_numpy, to_pandas


def model(dbt, session):
    """Multistep-regression branching estimates per condition: along tokens and along layers."""
    sites = to_numpy(dbt.ref("int_raster_sites"))
    conditions = to_pandas(dbt.ref("int_raster_conditions"))
    return mr_table(sites, conditions)
