from gatehouse.criticality.pipeline import tau_rate_matched_table
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """tau_l(g) per (model_role, spike_def, target_rate, gain, layer): spec §4 histogram search."""
    histograms = to_pandas(dbt.ref("int_tail_histograms"))
    ranges = to_pandas(dbt.ref("int_value_ranges"))
    targets = to_pandas(dbt.ref("int_rate_targets"))
    settings = to_pandas(dbt.ref("int_rate_match_settings"))
    return tau_rate_matched_table(dbt.config.get("spike_inputs"), histograms, ranges, targets,
                                  bins=int(settings.hist_bins.iloc[0]))
