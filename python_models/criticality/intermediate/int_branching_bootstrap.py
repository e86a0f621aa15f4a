from gatehouse.criticality.bootstrap import bootstrap_table
from gatehouse.spark.frames import to_pandas


def model(dbt, session):
    """Paired bootstrap over sequences (§6): CIs of b_*, both nulls' delta_b and chi, per condition."""
    counts = to_pandas(dbt.ref("int_branching_counts"))
    lattices = to_pandas(dbt.ref("int_condition_lattices"))
    return bootstrap_table(counts, lattices, dbt.config.get("seed_run_id"))
