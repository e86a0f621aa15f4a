from gatehouse.criticality.avalanches import signature_table
from gatehouse.spark.frames import select, to_pandas


def model(dbt, session):
    """Crackling exponent with its bootstrap CI and pass flag, and descriptive tail fits (§9), per condition."""
    avalanches = to_pandas(select(dbt.ref("avalanches"), "adjacency = '4N'",
                                  ["model_role", "spike_def_id", "target_rate", "gain", "adjacency", "size",
                                   "span_tokens"]))
    lattices = to_pandas(dbt.ref("int_condition_lattices"))
    return signature_table(avalanches, lattices, dbt.config.get("seed_run_id"))
