"""`gatehouse runs prune`: what a runs directory holds that nobody needs any more.

Superseded runs (complete, unprotected, older than the newest pinned or locked run of their phase),
stale staging folders (their process is gone) and failed attempts. Dry run by default; failed
attempts are evidence, so they go only when asked for by name of the option.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gatehouse.runs.core import require_runs_dir
from gatehouse.runs.errors import RunError
from gatehouse.runs.layout import STAGING_PATTERN, STAGING_PREFIX, failed_attempts
from gatehouse.runs.pointers import phase_of, protected_runs


@dataclass
class PrunePlan:
    """Run folders to remove or keep (each with a reason), staging folders by liveness, failed attempts."""
    remove: list[tuple[Path, str]] = field(default_factory=list)
    keep: list[tuple[Path, str]] = field(default_factory=list)
    stale_staging: list[Path] = field(default_factory=list)
    live_staging: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)


def _record_or_none(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / "run_record.json").read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("stage_status") == "complete" else None


def _newest_protected(protected: dict, records: dict) -> dict[str, tuple[str, str]]:
    """phase -> (created_utc, run_id) of its newest pinned or locked run."""
    newest: dict[str, tuple[str, str]] = {}
    for run_id in protected:
        record = records.get(run_id)
        if record:
            key = (record.get("created_utc") or "", run_id)
            newest[phase_of(record)] = max(newest.get(phase_of(record), key), key)
    return newest


def _verdict(folder: Path, record: dict | None, protected: dict, newest: dict) -> tuple[bool, str]:
    """(remove?, reason) for one run folder."""
    if folder.name in protected:
        return False, "protected: " + ", ".join(protected[folder.name])
    if record is None:
        return False, "no complete run_record.json: not touched"
    phase = phase_of(record)
    if phase not in newest:
        return False, f"no pinned or locked run of phase {phase}"
    if (record.get("created_utc") or "") < newest[phase][0]:
        return True, f"superseded by {newest[phase][1]} (phase {phase})"
    return False, f"not older than {newest[phase][1]} (live candidate)"


def prune_plan(runs_dir: Path) -> PrunePlan:
    runs_dir = require_runs_dir(runs_dir)
    plan = PrunePlan(failed=failed_attempts(runs_dir))
    protected = protected_runs(runs_dir)
    folders = sorted(p for p in runs_dir.glob("RUN_*") if p.is_dir() and not p.is_symlink())
    records = {folder.name: _record_or_none(folder) for folder in folders}
    newest = _newest_protected(protected, records)
    for folder in folders:
        remove, reason = _verdict(folder, records[folder.name], protected, newest)
        (plan.remove if remove else plan.keep).append((folder, reason))
    for staging in sorted(runs_dir.glob(f"{STAGING_PREFIX}*")):
        match = STAGING_PATTERN.fullmatch(staging.name)
        alive = bool(match) and _process_alive(int(match["pid"]))
        (plan.live_staging if alive else plan.stale_staging).append(staging)
    return plan


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prune(runs_dir: Path, apply: bool = False, include_failed: bool = False) -> PrunePlan:
    """Dry run by default; with ``apply`` remove the superseded runs and stale staging folders, and the
    failed attempts too with ``include_failed``."""
    plan = prune_plan(runs_dir)
    if not apply:
        return plan
    protected = protected_runs(runs_dir)
    for folder, _ in plan.remove:
        if folder.name in protected:  # re-checked just before deleting
            raise RunError(f"{folder}: became protected while pruning; stopped")
        shutil.rmtree(folder)
    for folder in plan.stale_staging + (plan.failed if include_failed else []):
        shutil.rmtree(folder)
    return plan


def describe_plan(plan: PrunePlan, applied: bool, include_failed: bool = False) -> str:
    verb = "removed" if applied else "would remove"
    failed_verb = verb if include_failed else "kept failed attempt"
    lines = [f"{verb}: {folder}  ({reason})" for folder, reason in plan.remove]
    lines += [f"{verb} stale staging: {folder}" for folder in plan.stale_staging]
    lines += [f"{failed_verb}: {folder}" + ("" if include_failed else "  (evidence; --include-failed removes it)")
              for folder in plan.failed]
    lines += [f"kept: {folder}  ({reason})" for folder, reason in plan.keep]
    lines += [f"kept live staging: {folder}" for folder in plan.live_staging]
    if not applied and (plan.remove or plan.stale_staging or (include_failed and plan.failed)):
        lines.append("dry run: nothing removed (pass --apply to remove)")
    return "\n".join(lines) if lines else "nothing to prune"
