from gatehouse.criticality.sources import spike_table


def model(dbt, session):
    """Exceedance events: synthetic default, or a validated user parquet (var spike_source)."""
    return spike_table(dbt.config.get("spike_inputs"), "events", session)
