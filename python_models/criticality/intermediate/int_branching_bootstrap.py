from gatehouse.criticality.bootstrap import bootstrap_table


def model(dbt, session):
    """Paired bootstrap over sequences (§6): CIs of b_*, both nulls' delta_b and chi, per condition."""
    counts = dbt.ref("int_branching_counts").df()
    lattices = dbt.ref("int_condition_lattices").df()
    return bootstrap_table(counts, lattices, dbt.config.get("seed_run_id"))
