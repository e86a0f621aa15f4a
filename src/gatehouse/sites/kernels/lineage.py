"""Lineage tokens of Segment 1B (reference §4): parameter_hash and manifest_fingerprint.

Encoding (UER): a string is its u32 little-endian byte length followed by its UTF-8 bytes; SHA-256
digests are raw 32 bytes inside a hash and lower-case hex outside.

* parameter_hash: the governed policy files, sorted by ASCII basename; for each
  t_i = SHA256(UER(basename) || SHA256(bytes)); parameter_hash = SHA256(t_1 || ... || t_n).
* manifest_fingerprint: every input artefact, sorted by ASCII name, each
  T(a) = SHA256(UER(name) || SHA256(bytes)); mf = SHA256(T(a_1) || ... || T(a_k) || commit_32 ||
  parameter_hash_bytes), where commit_32 is the git commit left-padded with zero bytes to 32 bytes
  (a SHA-1 gets 12 leading zero bytes; no git metadata gives 32 zero bytes).
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass

_HEX_COMMIT = re.compile(r"^[0-9a-f]{40}$|^[0-9a-f]{64}$")


class LineageError(ValueError):
    """Two inputs share a name, or a token cannot be formed."""


@dataclass(frozen=True)
class Member:
    """One hashed input: its name (a file's basename) and the SHA-256 of its bytes."""

    name: str
    sha256_hex: str

    @classmethod
    def of_bytes(cls, name: str, data: bytes) -> "Member":
        return cls(name, hashlib.sha256(data).hexdigest())


def uer(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<I", len(raw)) + raw


def member_token(member: Member) -> bytes:
    """SHA256(UER(name) || SHA256(bytes)) as raw bytes."""
    return hashlib.sha256(uer(member.name) + bytes.fromhex(member.sha256_hex)).digest()


def sorted_members(members: list[Member], what: str) -> list[Member]:
    """Members in ASCII order of name; a repeated name is an error (the order would be ambiguous)."""
    ordered = sorted(members, key=lambda m: m.name.encode("utf-8"))
    names = [m.name for m in ordered]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise LineageError(f"{what}: names must be unique, repeated: {repeated}")
    return ordered


def parameter_hash(policies: list[Member]) -> str:
    ordered = sorted_members(policies, "parameter_hash inputs")
    return hashlib.sha256(b"".join(member_token(m) for m in ordered)).hexdigest()


def commit_bytes(commit: str | None) -> bytes:
    """The code version as 32 bytes: a hex git commit left-padded with zeros, or zeros without one."""
    if not commit or not _HEX_COMMIT.match(commit):
        return bytes(32)
    return bytes.fromhex(commit).rjust(32, b"\0")


def manifest_fingerprint(artefacts: list[Member], commit: str | None, parameter_hash_hex: str) -> str:
    ordered = sorted_members(artefacts, "manifest_fingerprint inputs")
    material = b"".join(member_token(m) for m in ordered) + commit_bytes(commit) + bytes.fromhex(parameter_hash_hex)
    return hashlib.sha256(material).hexdigest()
