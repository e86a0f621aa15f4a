"""Names inside a runs directory, defined once: run folders, staging folders, failed attempts."""

from __future__ import annotations

import re
from pathlib import Path

from gatehouse.runs.errors import RunError

RUN_ID_PATTERN = re.compile(r"RUN_[A-Za-z0-9]+_[0-9a-f]{12}")
STAGING_PREFIX = ".staging-"
STAGING_PATTERN = re.compile(rf"{re.escape(STAGING_PREFIX)}(?P<run_id>{RUN_ID_PATTERN.pattern})-(?P<pid>\d+)")
FAILED_DIR = "failed"  # runs_dir/failed/<run_id>-<n>/: failed attempts, kept for inspection
FAILED_PATTERN = re.compile(rf"(?P<run_id>{RUN_ID_PATTERN.pattern})-(?P<attempt>\d+)")
POINTERS_DIR, LOCKS_DIR = "pointers", "locks"


def staging_dir(runs_dir: Path, run_id: str, pid: int) -> Path:
    return Path(runs_dir) / f"{STAGING_PREFIX}{run_id}-{pid}"


def run_dir(runs_dir: Path, run_id: str) -> Path:
    """The folder of a run id; refuses anything that is not a plain RUN_<tag>_<12 hex> name."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise RunError(f"{run_id!r}: not a run id (expected RUN_<stage tag>_<12 hex digits>)")
    return Path(runs_dir) / run_id


def failed_attempts(runs_dir: Path) -> list[Path]:
    folder = Path(runs_dir) / FAILED_DIR
    return sorted(path for path in folder.glob("RUN_*") if FAILED_PATTERN.fullmatch(path.name)) if folder.is_dir() else []
