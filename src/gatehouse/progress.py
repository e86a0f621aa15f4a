"""Progress lines on stderr: one per finished dbt node and per long Python step, with elapsed time.

`gatehouse --quiet` turns them off. They go to stderr so stdout stays the run directory alone.
"""

from __future__ import annotations

import re
import sys
import threading
import time

_started = time.monotonic()
_enabled = True
_one_line_at_a_time = threading.Lock()  # dbt steps may run side by side (1B prior sensitivity)
# dbt's per-node result line: "HH:MM:SS  12 of 118 OK created sql table model main.x ... [OK in 0.10s]"
NODE_RESULT = re.compile(r"^\S+\s+(?P<line>\d+ of \d+ (?:OK|PASS|FAIL|ERROR|WARN|SKIP)\b.*)$")


def configure(enabled: bool) -> None:
    global _enabled, _started
    _enabled, _started = enabled, time.monotonic()


def say(message: str) -> None:
    if _enabled:
        with _one_line_at_a_time:
            print(f"gatehouse [{time.monotonic() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


def dbt_line(line: str, label: str = "") -> None:
    """Echo a dbt output line when it reports a finished node (dots squeezed), else nothing. `label` names
    the dbt step when several run side by side."""
    match = NODE_RESULT.match(line.rstrip())
    if match:
        say(labelled(label, re.sub(r" \.{2,} ", " ", match["line"])))


def labelled(label: str, message: str) -> str:
    return f"{label}: {message}" if label else message
