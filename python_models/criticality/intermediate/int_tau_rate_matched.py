from gatehouse.criticality.pipeline import tau_rate_matched_table


def model(dbt, session):
    """tau_l(g) per (model_role, spike_def, target_rate, gain, layer): spec §4 histogram search."""
    histograms = dbt.ref("int_tail_histograms").df()
    ranges = dbt.ref("int_value_ranges").df()
    targets = dbt.ref("int_rate_targets").df()
    settings = dbt.ref("int_rate_match_settings").df()
    return tau_rate_matched_table(dbt.config.get("spike_inputs"), histograms, ranges, targets,
                                  bins=int(settings.hist_bins.iloc[0]))
