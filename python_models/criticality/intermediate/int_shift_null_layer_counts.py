from gatehouse.criticality.lattice_tables import shift_null_layer_table


def model(dbt, session):
    """Circular-shift null (§7) per occupied (condition, sequence, layer): shifted counts and pairs."""
    sites = dbt.ref("int_raster_sites").fetchnumpy()
    conditions = dbt.ref("int_raster_conditions").df()
    return shift_null_layer_table(sites, conditions, dbt.config.get("seed_run_id"))
