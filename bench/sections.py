"""The one way a bench writes its results into BENCHMARKS.md: the block between its two markers."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, section: str, start: str, end: str, heading: str) -> None:
    """Replace the text from `start` to `end` (both markers inside `section`) and keep everything around it;
    a file without the markers gets `heading` and the section appended."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n{heading}\n\n" + section.rstrip("\n") + "\n"
    path.write_text(text)
