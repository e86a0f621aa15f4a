from gatehouse.criticality.pipeline import tail_histogram_table


def model(dbt, session):
    """Pass 1 over the events: every row checked, spec §4 histogram counts of the bins above the floor."""
    events = dbt.ref("stg_spikes__events")
    ranges = dbt.ref("int_value_ranges").df()
    settings = dbt.ref("int_rate_match_settings").df()
    return tail_histogram_table(dbt.config.get("spike_inputs"), events, ranges, int(settings.hist_bins.iloc[0]))
