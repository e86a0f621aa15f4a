"""Every 1B command's inputs: resolved from its arguments and checked before dbt starts.

Policies, the polygon file, a user catalogue (E300-E303) and its 1A bundle are checked here, fast and with
named errors; the sealed inputs are hashed into the lineage tokens that name the run (the same function S0
calls, so the S0 receipt is checked against them after the gate-in step).
"""

from __future__ import annotations

from pathlib import Path

from gatehouse.runs import RunError, code_version
from gatehouse.sites.dbt_steps import pipeline, sources
from gatehouse.sites.inputs import geodata, policy
from gatehouse.sites.inputs.catalogue import CatalogueInputError, read_catalogue, untiled_countries, validate_catalogue
from gatehouse.sites.outputs import bundle


def resolve_inputs(seed: int, catalogue: str | None = None, gate_bundle: str | None = None,
                   policy_dir: str | None = None, countries_zip: str | None = None,
                   catalogue_seed: int = 42) -> sources.SitesInputs:
    """A command's arguments as the inputs of a one-seed build (paths absolute; RunError on a bad seed)."""
    def absolute(value):
        return Path(value).resolve() if value else None

    for name, value in (("--seed", seed), ("--catalogue-seed", catalogue_seed)):
        if not 0 <= int(value) < 2**64:
            raise RunError(f"{name} must be in [0, 2^64), got {value}")
    if gate_bundle and not catalogue:
        raise RunError("--gate-bundle verifies the 1A run a user catalogue came from; give --outlet-catalogue too")
    return sources.SitesInputs(seeds=(int(seed),), catalogue_seed=int(catalogue_seed), catalogue_path=absolute(catalogue),
                               gate_bundle_path=absolute(gate_bundle),
                               policy_dir=absolute(policy_dir) or policy.default_policy_dir(),
                               countries_zip_path=absolute(countries_zip))


def precheck(inputs: sources.SitesInputs) -> dict:
    """Refuse bad input before dbt starts; returns the sealed inputs and the lineage tokens that name the run
    (the same function S0 calls; the S0 receipt is checked against them after the gate-in step)."""
    policies = policy.load_all(inputs.policy_dir)
    if inputs.countries_zip_path is not None:
        geodata.load_countries(inputs.countries_zip_path)  # GeodataError names a corrupt polygon file
    upstream_mf = _check_catalogue(inputs, policies) if inputs.catalogue_path is not None else None
    if inputs.gate_bundle_path is not None:
        _check_gate(inputs, upstream_mf)
    sealed = sources.sealed_inputs(inputs, [p.row() for p in policies.values()])
    commit = code_version()
    parameter_hash, fingerprint = pipeline.lineage_tokens(sealed, commit)
    return {"sealed": sealed, "commit": commit, "parameter_hash": parameter_hash, "manifest_fingerprint": fingerprint}


def _check_catalogue(inputs: sources.SitesInputs, policies: dict) -> str | None:
    """E300-E303 for a user catalogue; returns the 1A manifest_fingerprint it names, if any."""
    iso_codes = set(sources.iso_codes_table()["country_iso"])
    source = str(inputs.catalogue_path)
    catalogue = validate_catalogue(read_catalogue(inputs.catalogue_path), iso_codes, source)
    with_sites = set(catalogue["legal_country_iso"]) - set(policies["requirements"].values["denylist"])
    polygons = set(geodata.load_countries(inputs.countries_zip_path)["country_iso"])
    untiled = untiled_countries(with_sites, policies["tiles"].values["countries"], polygons)
    if untiled:
        raise CatalogueInputError(
            f"E303_COUNTRY_WITHOUT_TILES: {source}: column legal_country_iso has sites in {untiled[:10]}, which "
            "have no tile (no Natural Earth polygon, or left out by the tiles policy's countries)")
    return catalogue["upstream_manifest_fingerprint"].iloc[0] if len(catalogue) else None


def _check_gate(inputs: sources.SitesInputs, upstream_mf: str | None) -> None:
    verified = bundle.verify_bundle(inputs.gate_bundle_path)
    if verified.manifest_fingerprint and upstream_mf and verified.manifest_fingerprint != upstream_mf:
        raise bundle.GateInError(
            f"E007_FINGERPRINT_MISMATCH: {inputs.catalogue_path} names 1A run {upstream_mf} but the bundle "
            f"{inputs.gate_bundle_path} belongs to {verified.manifest_fingerprint}")
