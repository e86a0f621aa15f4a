from gatehouse.criticality.pipeline import raster_layer_table


def model(dbt, session):
    """Pass 2 over the events: raster counts per (condition, sequence, layer), plus imported rasters."""
    events = dbt.ref("stg_spikes__events")
    taus = dbt.ref("int_tau_rate_matched").df()
    lattices = dbt.ref("int_condition_lattices").df()
    imported_sites = dbt.ref("stg_spikes__raster_sites").df()
    return raster_layer_table(dbt.config.get("spike_inputs"), events, taus, lattices, imported_sites)
