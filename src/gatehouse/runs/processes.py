"""The subprocesses of the run being made (its dbt builds, background ones included), so that a run that
fails or is interrupted stops them all at once instead of waiting for results it will throw away."""

from __future__ import annotations

import subprocess
import threading
from contextlib import contextmanager
from typing import Iterator

from gatehouse.runs.errors import RunError


class Processes:
    """Started subprocesses; after `stop_all`, none starts until `allow`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._stopped = False

    @contextmanager
    def started(self, command: list[str], **popen_args) -> Iterator[subprocess.Popen]:
        """The running process for the block; killed if the block ends by an exception (Ctrl-C included)."""
        with self._lock:  # a process cannot start between stop_all's kills and allow
            if self._stopped:
                raise RunError(f"{' '.join(command)} was not started: the run is stopping")
            process = subprocess.Popen(command, **popen_args)
            self._running.add(process)
        try:
            yield process
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            with self._lock:
                self._running.discard(process)

    def stop_all(self) -> None:
        """Kill every running process and refuse new ones."""
        with self._lock:
            self._stopped = True
            for process in self._running:
                process.kill()

    def allow(self) -> None:
        with self._lock:
            self._stopped = False


PROCESSES = Processes()
