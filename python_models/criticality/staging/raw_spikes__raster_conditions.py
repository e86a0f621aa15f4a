from gatehouse.criticality.sources import raster_table


def model(dbt, session):
    """Condition map and lattice of imported rasters (empty unless spike_source = rasters)."""
    return raster_table(dbt.config.get("spike_inputs"), "conditions")
