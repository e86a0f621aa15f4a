from gatehouse.criticality.sources import spike_table


def model(dbt, session):
    """Per-layer summaries (value count, extremes, floor, count above TAU0) of the events."""
    return spike_table(dbt.config.get("spike_inputs"), "summaries", session)
