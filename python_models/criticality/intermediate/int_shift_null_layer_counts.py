from gatehouse.criticality.lattice_tables import shift_null_layer_table
from gatehouse.spark.frames import to_numpy, to_pandas


def model(dbt, session):
    """Circular-shift null (§7) per occupied (condition, sequence, layer): shifted counts and pairs."""
    sites = to_numpy(dbt.ref("int_raster_sites"))
    conditions = to_pandas(dbt.ref("int_raster_conditions"))
    return shift_null_layer_table(sites, conditions, dbt.config.get("seed_run_id"))
