from gatehouse.criticality.bootstrap import slope_table


def model(dbt, session):
    """CI of the slope of b_tot(g) per curve: sequences resampled jointly across the gains."""
    counts = dbt.ref("int_branching_counts").df()
    lattices = dbt.ref("int_condition_lattices").df()
    return slope_table(counts, lattices, dbt.config.get("seed_run_id"))
