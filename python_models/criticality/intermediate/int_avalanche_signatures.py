from gatehouse.criticality.avalanches import signature_table


def model(dbt, session):
    """Crackling exponent with its bootstrap CI and pass flag, and descriptive tail fits (§9), per condition."""
    avalanches = (dbt.ref("avalanches").filter("adjacency = '4N'")
                  .project("model_role::varchar as model_role, spike_def_id::varchar as spike_def_id, target_rate, "
                           "gain, adjacency::varchar as adjacency, size, span_tokens").df())
    lattices = dbt.ref("int_condition_lattices").df()
    return signature_table(avalanches, lattices, dbt.config.get("seed_run_id"))
