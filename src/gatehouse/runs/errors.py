"""The one error type of a run, with the process exit codes it can carry."""

from __future__ import annotations

EXIT_FAILED, EXIT_MISSING_DEPENDENCY, EXIT_RUN_EXISTS = 2, 3, 4


class RunError(RuntimeError):
    """A run cannot be made; carries the process exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


def missing_file(path) -> str:
    """Why an input path that should be a file is not one: 'a directory, not a file' or 'file not found'."""
    from pathlib import Path

    return "a directory, not a file" if Path(path).is_dir() else "file not found"
