"""The governed Segment 1B policies: one versioned YAML file per state, all hashed into parameter_hash.

Every loader returns the file's raw bytes (what lineage hashes) together with validated values, so
what a state uses is exactly what was hashed. Errors name the file and the key.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from gatehouse.project import project_dir, project_path
from gatehouse.sites.kernels import alloc, jitter, weights
from gatehouse.sites.kernels.tiles import Grid

# Logical name -> file name. The surrogate 1A policy (outlets_1a.yaml) is not governed here: it is an
# input artefact of the manifest fingerprint, like a user's outlet catalogue.
GOVERNED_FILES = {
    "tiles": "tiles.yaml",
    "tile_weights": "tile_weights.yaml",
    "requirements": "requirements.yaml",
    "alloc_plan": "alloc_plan.yaml",
    "jitter": "jitter.yaml",
}
OUTLET_POLICY_FILE = "outlets_1a.yaml"
MIN_WORLD_ARCSEC = 180  # finer grids only for listed countries: tiles grow with (360 / arcsec)^2
MAX_WEIGHT_DP = 8  # S4 ranks tiles with int64 keys of size K^2 * countries; K = 10^8 still fits
_ISO2 = re.compile(r"^[A-Z]{2}$")


class SitesPolicyError(ValueError):
    """A governed policy file is missing, unreadable or has a bad value; the message names file and key."""


@dataclass(frozen=True)
class Policy:
    name: str
    path: Path
    data: bytes
    values: dict

    @property
    def basename(self) -> str:
        return self.path.name

    @property
    def sha256_hex(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def version(self) -> str:
        return self.values["policy_version"]

    def row(self) -> dict:
        """The one-row table a policy model publishes (values as JSON for SQL and Python readers)."""
        return {"policy_name": self.name, "basename": self.basename, "path": str(self.path),
                "policy_version": self.version, "sha256_hex": self.sha256_hex, "bytes": len(self.data),
                "content_yaml": self.data.decode("utf-8"), "values_json": json.dumps(self.values, sort_keys=True)}


def default_policy_dir() -> Path:
    return project_path("policies", "sites")


def resolve_dir(policy_dir: str | Path | None) -> Path:
    """The policy directory; relative paths are taken from the project directory."""
    if policy_dir in (None, ""):
        return default_policy_dir()
    path = Path(policy_dir)
    return path if path.is_absolute() else project_dir() / path


def load(policy_dir: str | Path | None, name: str) -> Policy:
    if name not in GOVERNED_FILES:
        raise SitesPolicyError(f"unknown policy {name!r}; governed policies: {sorted(GOVERNED_FILES)}")
    path = resolve_dir(policy_dir) / GOVERNED_FILES[name]
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise SitesPolicyError(f"{path}: governed policy file not found") from exc
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise SitesPolicyError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(document, Mapping):
        raise SitesPolicyError(f"{path}: expected a mapping at the top level")
    try:
        _require_version(document)
        values = _VALIDATORS[name](document)
    except (ValueError, TypeError, KeyError) as exc:
        raise SitesPolicyError(f"{path}: {exc}") from exc
    return Policy(name=name, path=path, data=data, values=values)


def load_all(policy_dir: str | Path | None) -> dict[str, Policy]:
    return {name: load(policy_dir, name) for name in GOVERNED_FILES}


def outlet_policy_path(policy_dir: str | Path | None) -> Path:
    """The surrogate 1A policy: the policy directory's own copy if it has one, else the shipped file."""
    own = resolve_dir(policy_dir) / OUTLET_POLICY_FILE
    return own if own.is_file() else default_policy_dir() / OUTLET_POLICY_FILE


def values_of(policy_table) -> dict:
    """The validated values of a published policy table (one row, column values_json)."""
    return json.loads(policy_table["values_json"].iloc[0])


# ---------------------------------------------------------------------------------------------------
# Validators: take the parsed document, return the values the states use (JSON-serialisable).


def _require_version(document: Mapping) -> None:
    version = document.get("policy_version")
    if not isinstance(version, str) or not version.strip():
        raise ValueError("policy_version: required non-empty string")


def _iso_list(document: Mapping, key: str) -> list[str]:
    codes = document.get(key) or []
    if not isinstance(codes, list) or not all(isinstance(c, str) and _ISO2.match(c) for c in codes):
        raise ValueError(f"{key}: expected a list of upper-case ISO2 codes, got {codes!r}")
    return sorted(set(codes))


def _number(document: Mapping, key: str, low: float, high: float, integer: bool = False) -> float:
    value = document.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key}: expected a number, got {value!r}")
    if integer and int(value) != value:
        raise ValueError(f"{key}: expected an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{key}: must be in [{low}, {high}], got {value!r}")
    return int(value) if integer else float(value)


def _tiles(document: Mapping) -> dict:
    arcsec = _number(document, "resolution_arcsec", 1e-3, 180 * 3600)
    try:
        Grid.from_resolution(arcsec / 3600.0)
    except ValueError as exc:
        raise ValueError(f"resolution_arcsec: {exc}") from exc
    rule = document.get("inclusion_rule", "center")
    if rule != "center":
        raise ValueError(f"inclusion_rule: only 'center' is implemented, got {rule!r}")
    countries = _iso_list(document, "countries")
    if arcsec < MIN_WORLD_ARCSEC and not countries:
        raise ValueError(f"resolution_arcsec: {arcsec:g} for the whole world is more than ~10M tiles "
                         f"(2.1M at 360); below {MIN_WORLD_ARCSEC} list the `countries` to tile")
    return {"policy_version": document["policy_version"], "resolution_arcsec": arcsec,
            "res_deg": arcsec / 3600.0, "inclusion_rule": rule, "countries": countries}


def _tile_weights(document: Mapping) -> dict:
    if document.get("basis") != "blend_v2":
        raise ValueError(f"basis: only 'blend_v2' is implemented, got {document.get('basis')!r}")
    mix = weights.validate_mix(document.get("mix") or {}, policy_key="mix")
    dp = _number(document, "dp", 0, MAX_WEIGHT_DP, integer=True)
    population = document.get("population") or {}
    min_population = _number(population, "min_place_population", 0, 1e12, integer=True) if population else 0
    namespace = document.get("tie_namespace", weights.DEFAULT_TIE_NAMESPACE)
    if not isinstance(namespace, str) or not namespace:
        raise ValueError("tie_namespace: expected a non-empty string")
    rebalance = _rebalance(document.get("rebalance_diagnostic") or {})
    return {"policy_version": document["policy_version"], "basis": "blend_v2", "mix": mix, "dp": dp,
            "min_place_population": min_population, "tie_namespace": namespace, "rebalance_diagnostic": rebalance}


def _rebalance(section: Mapping) -> dict:
    """Knobs of the diagnostic country rebalance; missing keys take weights.RebalancePolicy defaults."""
    default = weights.RebalancePolicy()
    floors = section.get("region_floors", default.region_floors)
    unknown = sorted(set(floors) - set(weights.REGION_ORDER))
    if unknown:
        raise ValueError(f"rebalance_diagnostic.region_floors: unknown macro regions {unknown}")
    targets = section.get("topk_targets", default.topk_targets)
    return {
        "region_floors": {region: float(value) for region, value in floors.items()},
        "soft_cap": float(section.get("soft_cap", default.soft_cap)),
        "hard_cap": float(section.get("hard_cap", default.hard_cap)),
        "topk_targets": {str(float(f)): float(share) for f, share in targets.items()},
        "penalty_strength": float(section.get("penalty_strength", default.penalty_strength)),
        "max_iterations": int(section.get("max_iterations", default.max_iterations)),
        "tolerance": float(section.get("tolerance", default.tolerance)),
    }


def rebalance_policy(values: Mapping) -> weights.RebalancePolicy:
    section = dict(values["rebalance_diagnostic"])
    section["topk_targets"] = {float(f): share for f, share in section["topk_targets"].items()}
    return weights.RebalancePolicy(**section)


def _requirements(document: Mapping) -> dict:
    return {"policy_version": document["policy_version"], "denylist": _iso_list(document, "denylist")}


def _alloc_plan(document: Mapping) -> dict:
    mode = document.get("mode")
    if mode not in alloc.ALLOC_MODES:
        raise ValueError(f"mode: expected one of {list(alloc.ALLOC_MODES)}, got {mode!r}")
    cluster_size = document.get("cluster_size", 2)
    if isinstance(cluster_size, bool) or not isinstance(cluster_size, int) or cluster_size < 1:
        raise ValueError(f"cluster_size: expected a positive integer, got {cluster_size!r}")
    return {"policy_version": document["policy_version"], "mode": mode, "cluster_size": cluster_size}


def _jitter(document: Mapping) -> dict:
    settings = {key: value for key, value in document.items() if key != "policy_version"}
    return {"policy_version": document["policy_version"], **jitter.validate_policy(settings)}


def jitter_settings(values: Mapping) -> dict:
    """The jitter policy as jitter.jitter_sites takes it (without policy_version)."""
    return {key: value for key, value in values.items() if key != "policy_version"}


_VALIDATORS: dict[str, Callable[[Mapping], dict[str, Any]]] = {
    "tiles": _tiles,
    "tile_weights": _tile_weights,
    "requirements": _requirements,
    "alloc_plan": _alloc_plan,
    "jitter": _jitter,
}
