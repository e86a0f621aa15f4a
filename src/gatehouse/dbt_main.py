"""The dbt process of a run: dbt's own command line, ended as soon as dbt's exit work is done.

dbt's exit handlers close the DuckDB database (folding its write-ahead log into the file) and flush
the logs. The interpreter teardown after them only frees memory (dbt's manifest objects: about a
second per dbt process here), so this process skips it with os._exit. If a write-ahead log is still
there (something kept the database open past the handlers), the normal exit runs instead, whose
teardown closes the database.

Run as `python -P -m gatehouse.dbt_main <dbt arguments>` (-P: no script directory on sys.path, where
dbt would import any module named dbt_* as a plugin).
"""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path


def main() -> None:
    from dbt.cli.main import cli

    try:
        cli(prog_name="dbt")  # the command's name in dbt's logs (click would say `python -m gatehouse.dbt_main`)
        code = 0
    except SystemExit as exit:
        code = exit_code(exit)
    atexit._run_exitfuncs()
    if write_ahead_log_may_remain(os.environ, Path.cwd()):
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def exit_code(exit: SystemExit) -> int:
    """The process exit status sys.exit would give for `exit`."""
    if exit.code is None:
        return 0
    if isinstance(exit.code, int):
        return exit.code
    print(exit.code, file=sys.stderr)
    return 1


def write_ahead_log_may_remain(environ, cwd: Path) -> bool:
    """True unless the run's DuckDB file (GATEHOUSE_DB, relative to `cwd`) is known to have no write-ahead log."""
    database = environ.get("GATEHOUSE_DB")
    if not database:
        return True
    path = cwd / database
    return path.with_name(path.name + ".wal").exists()


if __name__ == "__main__":
    main()
