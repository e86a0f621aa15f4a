"""Lineage tokens (§4): UER, parameter_hash and manifest_fingerprint on worked examples, and the
properties the runs rely on (order-free, every byte and name counts, policies vs artefacts)."""

from __future__ import annotations

import hashlib
import shutil
import struct

import pandas as pd
import pytest

from gatehouse.sites.kernels import lineage

from gatehouse.sites.dbt_steps import pipeline, sources

from gatehouse.sites.inputs import policy
from gatehouse.sites.kernels.lineage import Member


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def uer(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<I", len(raw)) + raw


def test_uer_is_length_prefixed_utf8():
    assert lineage.uer("ab") == b"\x02\x00\x00\x00ab"
    assert lineage.uer("é") == b"\x02\x00\x00\x00\xc3\xa9"  # bytes, not characters


def test_parameter_hash_worked_example():
    files = {"b.yaml": b"mode: x\n", "a.yaml": b"dp: 8\n"}
    expected = sha(sha(uer("a.yaml") + sha(b"dp: 8\n")) + sha(uer("b.yaml") + sha(b"mode: x\n"))).hex()
    members = [Member.of_bytes(name, data) for name, data in files.items()]
    assert lineage.parameter_hash(members) == expected
    assert lineage.parameter_hash(members[::-1]) == expected  # input order does not matter


def test_members_sort_by_ascii_basename():
    upper, lower = Member.of_bytes("Z.yaml", b"1"), Member.of_bytes("a.yaml", b"2")
    expected = sha(lineage.member_token(upper) + lineage.member_token(lower)).hex()  # 'Z' (0x5a) < 'a' (0x61)
    assert lineage.parameter_hash([lower, upper]) == expected


def test_repeated_names_are_refused():
    with pytest.raises(lineage.LineageError, match="repeated"):
        lineage.parameter_hash([Member.of_bytes("a.yaml", b"1"), Member.of_bytes("a.yaml", b"2")])


def test_commit_is_left_padded_to_32_bytes():
    sha1 = "3afc4a5311a62dcbe63b78339bcda6877818ebd0"
    assert lineage.commit_bytes(sha1) == bytes(12) + bytes.fromhex(sha1)
    assert lineage.commit_bytes(None) == bytes(32)
    assert lineage.commit_bytes("no_git_metadata") == bytes(32)


def test_manifest_fingerprint_worked_example():
    artefacts = [Member.of_bytes("places.json", b"[]"), Member.of_bytes("countries.zip", b"PK")]
    commit, parameter_hash = "ab" * 20, "cd" * 32
    expected = sha(sha(uer("countries.zip") + sha(b"PK")) + sha(uer("places.json") + sha(b"[]"))
                   + bytes(12) + bytes.fromhex(commit) + bytes.fromhex(parameter_hash)).hex()
    assert lineage.manifest_fingerprint(artefacts, commit, parameter_hash) == expected


@pytest.mark.parametrize("change", ["artefact_bytes", "artefact_name", "commit", "parameter_hash"])
def test_every_component_moves_the_fingerprint(change):
    base = dict(artefacts=[Member.of_bytes("x.parquet", b"rows")], commit="ab" * 20, parameter_hash_hex="cd" * 32)
    changed = dict(base)
    if change == "artefact_bytes":
        changed["artefacts"] = [Member.of_bytes("x.parquet", b"rowz")]
    elif change == "artefact_name":
        changed["artefacts"] = [Member.of_bytes("y.parquet", b"rows")]
    elif change == "commit":
        changed["commit"] = "ac" * 20
    else:
        changed["parameter_hash_hex"] = "ce" * 32
    assert lineage.manifest_fingerprint(**base) != lineage.manifest_fingerprint(**changed)


def test_shipped_policies_hash_as_the_rule_says():
    sealed = sources.sealed_inputs(sources.SitesInputs())
    parameter_hash, _ = pipeline.lineage_tokens(sealed, "ab" * 20)
    files = sorted(policy.default_policy_dir() / name for name in policy.GOVERNED_FILES.values())
    files.sort(key=lambda path: path.name.encode())
    expected = sha(b"".join(sha(uer(path.name) + sha(path.read_bytes())) for path in files)).hex()
    assert parameter_hash == expected
    assert set(sealed.loc[sealed.role == "parameter", "name"]) == set(policy.GOVERNED_FILES.values())


def test_policies_move_parameter_hash_but_the_surrogate_policy_only_the_fingerprint(tmp_path):
    shutil.copytree(policy.default_policy_dir(), tmp_path / "p")
    base = pipeline.lineage_tokens(sources.sealed_inputs(sources.SitesInputs(policy_dir=tmp_path / "p")), None)

    alloc_file = tmp_path / "p" / "alloc_plan.yaml"
    alloc_file.write_text(alloc_file.read_text().replace("mode: settlement_clusters_v3", "mode: largest_remainder_v1"))
    after_alloc = pipeline.lineage_tokens(sources.sealed_inputs(sources.SitesInputs(policy_dir=tmp_path / "p")), None)
    assert after_alloc[0] != base[0] and after_alloc[1] != base[1]

    outlet_file = tmp_path / "p" / "outlets_1a.yaml"
    outlet_file.write_text(outlet_file.read_text() + "\n# comment\n")
    after_outlets = pipeline.lineage_tokens(sources.sealed_inputs(sources.SitesInputs(policy_dir=tmp_path / "p")), None)
    assert after_outlets[0] == after_alloc[0] and after_outlets[1] != after_alloc[1]


def test_surrogate_seed_is_an_artefact_but_the_1b_seed_is_not():
    def tokens(**kwargs):
        return pipeline.lineage_tokens(sources.sealed_inputs(sources.SitesInputs(**kwargs)), None)

    assert tokens(seeds=(1,)) == tokens(seeds=(2,))  # the 1B seed keys the RNG next to the fingerprint
    assert tokens(catalogue_seed=1)[1] != tokens(catalogue_seed=2)[1]
    seed_row = sources.sealed_inputs(sources.SitesInputs(catalogue_seed=7)).set_index("asset_id").loc[
        "outlet_catalogue_seed"]
    assert seed_row["sha256_hex"] == hashlib.sha256(struct.pack("<Q", 7)).hexdigest()


def test_lineage_tokens_split_roles():
    sealed = pd.DataFrame({"name": ["p.yaml", "a.zip"], "sha256_hex": [sha(b"p").hex(), sha(b"a").hex()],
                           "role": ["parameter", "artefact"]})
    parameter_hash, fingerprint = pipeline.lineage_tokens(sealed, None)
    assert parameter_hash == lineage.parameter_hash([Member("p.yaml", sha(b"p").hex())])
    assert fingerprint == lineage.manifest_fingerprint([Member("a.zip", sha(b"a").hex())], None, parameter_hash)
