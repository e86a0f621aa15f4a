from gatehouse.criticality.bootstrap import slope_table
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """CI of the slope of b_tot(g) per curve: sequences resampled jointly across the gains."""
    counts = to_pandas(dbt.ref("int_branching_counts"))
    lattices = to_pandas(dbt.ref("int_condition_lattices"))
    return slope_table(counts, lattices, dbt.config.get("seed_run_id"))
