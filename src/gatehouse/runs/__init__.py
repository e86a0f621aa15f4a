"""The one run layer: run ids, staging and publishing, failed attempts, records, pointers, pruning.

`new_run` makes every run directory of every command (see core.py); `execute.execute(RunSpec(...))` is
the one way a command uses it: new run -> dbt -> checks -> exports -> outputs -> record -> publish;
`layout` names what lies in a runs directory; `record` holds the run record's schema; `pointers` and `prune` manage a runs directory
whatever domain made its runs.
"""

from gatehouse.runs.core import (Run, code_version, copy_to_parquet, keep_failed_attempt, new_run,
                                 package_versions, published_runs, require_runs_dir, resolved_config_bytes,
                                 run_id_for, sha256_file, utc_now)
from gatehouse.runs.errors import EXIT_FAILED, EXIT_MISSING_DEPENDENCY, EXIT_RUN_EXISTS, RunError
from gatehouse.runs.layout import FAILED_DIR

__all__ = ["EXIT_FAILED", "EXIT_MISSING_DEPENDENCY", "EXIT_RUN_EXISTS", "FAILED_DIR", "Run", "RunError",
           "code_version", "copy_to_parquet", "keep_failed_attempt", "new_run", "package_versions",
           "published_runs", "require_runs_dir", "resolved_config_bytes", "run_id_for", "sha256_file", "utc_now"]
