"""`python -m gatehouse.spark.dbt <dbt args>`: dbt, with the Python models of a dbt-spark `session`
target run in that session (submission method `local_session`, the default for such targets).

Other Spark targets (thrift, http, odbc) keep dbt-spark's own submission methods.
"""

from __future__ import annotations

import os
import sys

LOCAL_SESSION = "local_session"


def register_local_session() -> None:
    """Add `local_session` to SparkAdapter's submission methods; make it the default of `session` targets."""
    from dbt.adapters.spark.impl import SparkAdapter

    from gatehouse.spark.submission import LocalSessionJobHelper

    helpers = SparkAdapter.python_submission_helpers.fget
    default = SparkAdapter.default_python_submission_method.fget
    SparkAdapter.python_submission_helpers = property(
        lambda adapter: {**helpers(adapter), LOCAL_SESSION: LocalSessionJobHelper})
    SparkAdapter.default_python_submission_method = property(
        lambda adapter: LOCAL_SESSION if adapter.config.credentials.method == "session" else default(adapter))


def main() -> int:
    # Spark's Python workers run this interpreter (the one with gatehouse and its kernels).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    register_local_session()
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    return cli()


if __name__ == "__main__":
    sys.exit(main())
