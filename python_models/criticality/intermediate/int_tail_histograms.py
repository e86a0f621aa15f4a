from gatehouse.criticality.pipeline import tail_histogram_table
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """Pass 1 over the events: every row checked, spec §4 histogram counts of the bins above the floor."""
    events = dbt.ref("stg_spikes__events")
    ranges = to_pandas(dbt.ref("int_value_ranges"))
    settings = to_pandas(dbt.ref("int_rate_match_settings"))
    return tail_histogram_table(dbt.config.get("spike_inputs"), events, ranges, int(settings.hist_bins.iloc[0]))
