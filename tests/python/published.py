"""What a runs directory holds after a command: published runs, and failed attempts kept for inspection
under runs/failed/ (never a run, never a dependency)."""

from pathlib import Path

from gatehouse.runs import FAILED_DIR


def published(runs_dir) -> list[str]:
    """Everything at the top of runs_dir but the failed-attempts folder: runs and any staging debris."""
    runs_dir = Path(runs_dir)
    return sorted(path.name for path in runs_dir.iterdir() if path.name != FAILED_DIR) if runs_dir.exists() else []


def nothing_published(runs_dir) -> bool:
    return published(runs_dir) == []


def failed_attempts(runs_dir) -> list[Path]:
    folder = Path(runs_dir) / FAILED_DIR
    return sorted(folder.iterdir()) if folder.exists() else []
