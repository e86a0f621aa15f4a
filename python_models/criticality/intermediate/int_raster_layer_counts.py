from gatehouse.criticality.pipeline import raster_layer_table
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """Pass 2 over the events: raster counts per (condition, sequence, layer), plus imported rasters."""
    events = dbt.ref("stg_spikes__events")
    taus = to_pandas(dbt.ref("int_tau_rate_matched"))
    lattices = to_pandas(dbt.ref("int_condition_lattices"))
    imported_sites = to_pandas(dbt.ref("stg_spikes__raster_sites"))
    return raster_layer_table(dbt.config.get("spike_inputs"), events, taus, lattices, imported_sites)
