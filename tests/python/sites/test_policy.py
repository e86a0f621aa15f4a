"""The governed 1B policies load, and every bad value is refused naming the file and the key."""

from __future__ import annotations

import shutil

import pytest

from gatehouse.sites.inputs import policy
from gatehouse.sites.inputs.policy import SitesPolicyError


def test_shipped_policies_load_with_versions():
    loaded = policy.load_all(None)
    assert set(loaded) == set(policy.GOVERNED_FILES)
    assert all(p.version.startswith(p.name) for p in loaded.values())
    assert {name: p.version for name, p in loaded.items()} == {
        "tiles": "tiles.v1", "tile_weights": "tile_weights.v3", "requirements": "requirements.v1",
        "alloc_plan": "alloc_plan.v2", "jitter": "jitter.v2",
    }
    assert loaded["tiles"].values["res_deg"] == pytest.approx(0.1)
    assert loaded["tile_weights"].values["dp"] == 8
    assert loaded["alloc_plan"].values["mode"] == "settlement_clusters_v3"
    assert loaded["alloc_plan"].values["cluster_size"] == 2
    assert loaded["jitter"].values["mode"] == "population_anchored"
    assert loaded["requirements"].values["denylist"] == []


@pytest.mark.parametrize("name, old, new, pattern", [
    ("tiles", "resolution_arcsec: 360", "resolution_arcsec: 7", "resolution_arcsec: grid resolution"),
    ("tiles", "countries: []", "countries: [de]", "countries: expected a list of upper-case ISO2"),
    ("tiles", "resolution_arcsec: 360", "resolution_arcsec: 30", "list the `countries` to tile"),
    ("tile_weights", "population: 1.0", "population: 0.9", "mix' must sum to 1"),
    ("tile_weights", "dp: 8", "dp: 9", r"dp: must be in \[0, 8\]"),
    ("tile_weights", "dp: 8", "dp: -1", r"dp: must be in \[0, 8\]"),
    ("requirements", "denylist: []", "denylist: MC", "denylist: expected a list"),
    ("alloc_plan", "mode: settlement_clusters_v3", "mode: greedy", "mode: expected one of"),
    ("jitter", "max_attempts: 64", "max_attempts: 0", "max_attempts must be an integer"),
    ("jitter", 'policy_version: "jitter.v2"', "policy_version: ''", "policy_version: required"),
])
def test_bad_values_name_file_and_key(tmp_path, name, old, new, pattern):
    shutil.copytree(policy.default_policy_dir(), tmp_path / "p")
    path = tmp_path / "p" / policy.GOVERNED_FILES[name]
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(SitesPolicyError, match=rf"{path.name}: .*{pattern}"):
        policy.load(tmp_path / "p", name)


def _edited_alloc_plan(tmp_path, old, new):
    shutil.copytree(policy.default_policy_dir(), tmp_path / "p")
    path = tmp_path / "p" / policy.GOVERNED_FILES["alloc_plan"]
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))
    return tmp_path / "p"


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "true", "'2'"])
def test_cluster_size_must_be_a_positive_integer(tmp_path, value):
    policy_dir = _edited_alloc_plan(tmp_path, "cluster_size: 2", f"cluster_size: {value}")
    with pytest.raises(SitesPolicyError, match=r"alloc_plan\.yaml: cluster_size: expected a positive integer"):
        policy.load(policy_dir, "alloc_plan")


@pytest.mark.parametrize("size", [1, 2, 5])
def test_settlement_clusters_v3_is_accepted_with_any_positive_cluster_size(tmp_path, size):
    policy_dir = _edited_alloc_plan(tmp_path, "cluster_size: 2", f"cluster_size: {size}")
    values = policy.load(policy_dir, "alloc_plan").values
    assert values == {"policy_version": "alloc_plan.v2", "mode": "settlement_clusters_v3", "cluster_size": size}


@pytest.mark.parametrize("mode", ["settlement_clusters_v3", "weighted_sample_v2", "largest_remainder_v1"])
def test_every_allocation_mode_is_accepted(tmp_path, mode):
    policy_dir = _edited_alloc_plan(tmp_path, "mode: settlement_clusters_v3", f"mode: {mode}")
    assert policy.load(policy_dir, "alloc_plan").values["mode"] == mode


def test_missing_policy_file(tmp_path):
    with pytest.raises(SitesPolicyError, match="jitter.yaml: governed policy file not found"):
        policy.load(tmp_path, "jitter")


def test_thirty_arcsec_is_a_valid_grid(tmp_path):
    shutil.copytree(policy.default_policy_dir(), tmp_path / "p")
    path = tmp_path / "p" / "tiles.yaml"
    path.write_text(path.read_text().replace("resolution_arcsec: 360", "resolution_arcsec: 30")
                    .replace("countries: []", "countries: [LU]"))
    assert policy.load(tmp_path / "p", "tiles").values["res_deg"] == pytest.approx(1 / 120)
