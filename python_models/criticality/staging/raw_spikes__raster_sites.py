from gatehouse.criticality.sources import raster_table


def model(dbt, session):
    """Occupied sites of imported rasters (empty unless spike_source = rasters)."""
    return raster_table(dbt.config.get("spike_inputs"), "sites")
