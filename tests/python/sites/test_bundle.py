"""The _passed.flag rule (§3 S0/S9): a written bundle verifies, and every way of breaking it is named."""

from __future__ import annotations

import hashlib
import json

import pytest

from gatehouse.sites.outputs import bundle
from gatehouse.sites.outputs.bundle import GateInError

FILES = {"MANIFEST.json": b'{"segment": "1A"}\n', "data/part-0.csv": b"a,b\n1,2\n"}


@pytest.fixture
def written(tmp_path):
    directory = tmp_path / ("manifest_fingerprint=" + "ab" * 32)
    flag = bundle.write_bundle(directory, FILES)
    return directory, flag


def test_flag_is_sha256_of_listed_files_in_ascii_path_order(written):
    directory, flag = written
    index = json.loads((directory / "index.json").read_text())
    paths = [entry["path"] for entry in index]
    assert paths == ["MANIFEST.json", "data/part-0.csv", "index.json"]  # 'M' < 'd' < 'i'
    expected = hashlib.sha256(b"".join((directory / p).read_bytes() for p in paths)).hexdigest()
    assert flag == expected
    assert (directory / "_passed.flag").read_text() == f"sha256_hex = {expected}\n"


def test_written_bundle_verifies_and_names_its_fingerprint(written):
    directory, flag = written
    verified = bundle.verify_bundle(directory)
    assert verified.flag_sha256_hex == flag
    assert verified.manifest_fingerprint == "ab" * 32
    assert {f["path"] for f in verified.files} == {"MANIFEST.json", "data/part-0.csv", "index.json"}


def test_bundles_are_write_once(written):
    directory, _ = written
    with pytest.raises(FileExistsError):
        bundle.write_bundle(directory, FILES)


def test_missing_bundle(tmp_path):
    with pytest.raises(GateInError, match="E001_BUNDLE_MISSING"):
        bundle.verify_bundle(tmp_path / "absent")


def test_missing_flag(written):
    directory, _ = written
    (directory / "_passed.flag").unlink()
    with pytest.raises(GateInError, match="E004_FLAG_MISSING.*_passed.flag"):
        bundle.verify_bundle(directory)


def test_malformed_flag(written):
    directory, _ = written
    (directory / "_passed.flag").write_text("PASS\n")
    with pytest.raises(GateInError, match="E005_FLAG_MALFORMED"):
        bundle.verify_bundle(directory)


def test_altered_file_breaks_the_flag(written):
    directory, _ = written
    (directory / "data" / "part-0.csv").write_bytes(b"a,b\n1,3\n")
    with pytest.raises(GateInError, match="E006_FLAG_MISMATCH"):
        bundle.verify_bundle(directory)


def test_unlisted_file_is_refused(written):
    directory, _ = written
    (directory / "extra.txt").write_text("x")
    with pytest.raises(GateInError, match="E003_INDEX_HYGIENE.*extra.txt"):
        bundle.verify_bundle(directory)


@pytest.mark.parametrize("entries, problem", [
    ([{"artifact_id": "a", "path": "../outside"}], "stay inside"),
    ([{"artifact_id": "a", "path": "/etc/passwd"}], "relative"),
    ([{"artifact_id": "a", "path": "MANIFEST.json"}, {"artifact_id": "a", "path": "index.json"}],
     "repeats artifact_id"),
    ([{"artifact_id": "a", "path": "MANIFEST.json"}, {"artifact_id": "b", "path": "MANIFEST.json"}], "repeats path"),
])
def test_index_hygiene(written, entries, problem):
    directory, _ = written
    (directory / "index.json").write_text(json.dumps(entries))
    with pytest.raises(GateInError, match=f"E003_INDEX_HYGIENE.*{problem}"):
        bundle.verify_bundle(directory)


def test_index_must_be_json(written):
    directory, _ = written
    (directory / "index.json").write_text("{not json")
    with pytest.raises(GateInError, match="E002_INDEX_INVALID"):
        bundle.verify_bundle(directory)


def test_a_symlink_out_of_the_bundle_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(b"secret")
    bundle_dir = tmp_path / "bundle"
    bundle.write_bundle(bundle_dir, {"outlets.csv": b"secret"})
    (bundle_dir / "outlets.csv").unlink()
    (bundle_dir / "outlets.csv").symlink_to(outside)  # same bytes, so the flag still matches
    with pytest.raises(bundle.GateInError, match="E003_INDEX_HYGIENE: .*outlets.csv is a symlink to .*elsewhere.csv"):
        bundle.verify_bundle(bundle_dir)


def test_a_symlink_inside_the_bundle_is_accepted(tmp_path):
    bundle_dir = tmp_path / "bundle"
    bundle.write_bundle(bundle_dir, {"data/outlets.csv": b"x", "copy.csv": b"x"})
    (bundle_dir / "copy.csv").unlink()
    (bundle_dir / "copy.csv").symlink_to(bundle_dir / "data" / "outlets.csv")
    assert bundle.verify_bundle(bundle_dir).flag_sha256_hex
