"""Validation bundles and the `_passed.flag` rule (reference §3 S0 and S9), writing and verifying.

A bundle is a directory with `index.json` (a list of {artifact_id, path}, one entry per file of the
bundle, itself included, the flag excluded) and `_passed.flag`, whose text is
`sha256_hex = <hex64>`: the SHA-256 of the raw bytes of every listed file, concatenated in ASCII
order of path. S0 verifies the 1A bundle with `verify_bundle`; the CLI writes the 1B bundle with
`write_bundle` only after every gate passed.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

INDEX_FILE = "index.json"
FLAG_FILE = "_passed.flag"
_FLAG_TEXT = re.compile(r"^sha256_hex = ([0-9a-f]{64})\s*$")
_FINGERPRINT_DIR = re.compile(r"^manifest_fingerprint=([0-9a-f]{64})$")


class GateInError(ValueError):
    """The upstream bundle does not pass the gate; the message starts with an E0xx code and names the file."""


@dataclass(frozen=True)
class VerifiedBundle:
    path: Path
    flag_sha256_hex: str
    files: list[dict]                    # index entries with their sha256 and size
    manifest_fingerprint: str | None     # from the directory name or MANIFEST.json, if either has one


# ---------------------------------------------------------------------------------------------------
# Writing


def flag_digest(directory: Path, paths: list[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: p.encode("ascii")):
        digest.update((directory / path).read_bytes())
    return digest.hexdigest()


def write_bundle(directory: Path, files: dict[str, bytes], artifact_ids: dict[str, str] | None = None) -> str:
    """Write `files` (relative path -> bytes), then index.json and the flag; returns the flag hash.

    The directory must not exist yet: bundles are write-once.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=False)
    artifact_ids = artifact_ids or {}
    for relative, data in files.items():
        _check_relative(relative)
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    paths = sorted([*files, INDEX_FILE], key=lambda p: p.encode("ascii"))
    index = [{"artifact_id": artifact_ids.get(p, PurePosixPath(p).stem), "path": p} for p in paths]
    (directory / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    flag = flag_digest(directory, paths)
    (directory / FLAG_FILE).write_text(f"sha256_hex = {flag}\n")
    return flag


# ---------------------------------------------------------------------------------------------------
# Verifying


def verify_bundle(path: str | Path) -> VerifiedBundle:
    """Check index hygiene and recompute the flag; raise GateInError naming what is wrong."""
    directory = Path(path)
    if not directory.is_dir():
        raise GateInError(f"E001_BUNDLE_MISSING: {directory} is not a directory")
    entries = _read_index(directory)
    listed = [entry["path"] for entry in entries]
    present = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())
    unlisted = sorted(set(present) - set(listed) - {FLAG_FILE})
    missing = sorted(set(listed) - set(present))
    if missing:
        raise GateInError(f"E003_INDEX_HYGIENE: {directory / INDEX_FILE} lists files that do not exist: {missing}")
    if unlisted:
        raise GateInError(f"E003_INDEX_HYGIENE: {directory} has files not listed in {INDEX_FILE}: {unlisted}")
    _refuse_links_out(directory, listed)
    flag_path = directory / FLAG_FILE
    if not flag_path.is_file():
        raise GateInError(f"E004_FLAG_MISSING: {flag_path} not found; the upstream bundle did not pass")
    match = _FLAG_TEXT.match(flag_path.read_text(encoding="ascii", errors="replace"))
    if not match:
        raise GateInError(f"E005_FLAG_MALFORMED: {flag_path} must read 'sha256_hex = <64 lower-case hex>'")
    recomputed = flag_digest(directory, listed)
    if recomputed != match.group(1):
        raise GateInError(f"E006_FLAG_MISMATCH: {flag_path} says {match.group(1)} but the listed files hash to "
                          f"{recomputed}; the bundle was altered after it passed")
    files = [{**entry, "sha256_hex": hashlib.sha256((directory / entry["path"]).read_bytes()).hexdigest(),
              "bytes": (directory / entry["path"]).stat().st_size} for entry in entries]
    return VerifiedBundle(directory, recomputed, files, _bundle_fingerprint(directory))


def _refuse_links_out(directory: Path, listed: list[str]) -> None:
    """A listed file (or a folder on its path) may be a symlink only if it resolves inside the bundle:
    the flag must vouch for bytes the bundle holds, not for a file anywhere on the machine."""
    root = directory.resolve()
    for relative in listed:
        target = (directory / relative).resolve()
        if not target.is_relative_to(root):
            raise GateInError(f"E003_INDEX_HYGIENE: {directory / relative} is a symlink to {target}, outside the "
                              "bundle; a bundle must hold its own files")


def _read_index(directory: Path) -> list[dict]:
    index_path = directory / INDEX_FILE
    try:
        entries = json.loads(index_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise GateInError(f"E002_INDEX_INVALID: {index_path} not found") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise GateInError(f"E002_INDEX_INVALID: {index_path} is not valid JSON ({exc})") from exc
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("artifact_id"), str) and isinstance(e.get("path"), str)
            for e in entries):
        raise GateInError(f"E002_INDEX_INVALID: {index_path} must be a list of {{artifact_id, path}} objects")
    paths = [e["path"] for e in entries]
    ids = [e["artifact_id"] for e in entries]
    for label, values in (("path", paths), ("artifact_id", ids)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise GateInError(f"E003_INDEX_HYGIENE: {index_path} repeats {label} {repeated}")
    for relative in paths:
        try:
            _check_relative(relative)
        except ValueError as exc:
            raise GateInError(f"E003_INDEX_HYGIENE: {index_path}: {exc}") from exc
        if relative == FLAG_FILE:
            raise GateInError(f"E003_INDEX_HYGIENE: {index_path} must not list {FLAG_FILE}")
    return entries


def _check_relative(relative: str) -> None:
    if not relative.isascii() or "\\" in relative:
        raise ValueError(f"path {relative!r} must be ASCII with '/' separators")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or relative in ("", "."):
        raise ValueError(f"path {relative!r} must be relative and stay inside the bundle")


def _bundle_fingerprint(directory: Path) -> str | None:
    match = _FINGERPRINT_DIR.match(directory.resolve().name)
    if match:
        return match.group(1)
    manifest = directory / "MANIFEST.json"
    if manifest.is_file():
        try:
            value = json.loads(manifest.read_text()).get("manifest_fingerprint")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) else None
    return None
