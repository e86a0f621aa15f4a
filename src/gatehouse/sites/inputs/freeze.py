"""The 1A freeze guard on the outlet catalogue a 1B build reads (reference §5, task card §2.0).

Segment 1A stays frozen while 1B is remediated. A reopened 1A candidate (a user catalogue, or the
surrogate under a changed policy or catalogue seed) may feed 1B only if its 1A metrics PASS the §5
rules against the frozen authority ``policies/sites/outlets_1a_authority.json``: the metrics of
the default surrogate (``policies/sites/outlets_1a.yaml``) at catalogue seed 42.

The guard is computed in one place, the dbt model ``realism_1a_freeze_guard`` (one row per metric,
gate S-1A-1), a gate-in model that ``sites run`` and ``sites certify`` build first: a non-PASS
catalogue is refused (exit 2) before any placement is built (``sites/commands/gate_in.py``).

The NB dispersion phi is not a catalogue column. For the surrogate it is regenerated (same countries,
places, policy and seed, and the regenerated catalogue must equal the staged one); a user catalogue
may carry it as an optional per-merchant ``phi`` column. Without phi the authority's phi hard gates
count as regressed, so the guard fails closed. Any scoring error is a FAIL, never a crash-free PASS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from gatehouse.project import project_dir, project_path
from gatehouse.runs import sha256_file
from gatehouse.sites.inputs import geodata, outlets, policy
from gatehouse.sites.inputs.catalogue import CATALOGUE_COLUMNS
from gatehouse.sites.dbt_steps import sources
from gatehouse.sites.kernels.outlet_metrics import band_passes, freeze_guard, hard_gate_passes, load_bands, outlet_catalogue_metrics

AUTHORITY_VERSION = "outlets_1a_authority.v2"
AUTHORITY_SEED = 42
PHI_COLUMN = "phi"
GUARD_COLUMNS = [
    "metric", "candidate_value", "authority_value", "b_low", "b_high", "b_band", "is_reported", "b_pass",
    "authority_b_pass", "hard_gate", "hard_gate_pass", "guard_status", "eligible_b", "b_pass_count",
    "authority_b_pass_count", "guard_reasons", "phi_source", "authority_version", "authority_policy_sha256",
]


class FreezeGuardError(ValueError):
    """The authority file or a catalogue's phi column is unusable; the message names the file and key."""


def frozen_authority_path() -> Path:
    return project_path("policies", "sites", "outlets_1a_authority.json")


def authority_prior_path() -> Path:
    """The authority's untuned prior: outlets in proportion to population (exponent 1), not the candidate."""
    return project_path("policies", "sites", "outlets_1a_population_proportional.yaml")


def sites_seeds_dir() -> Path:
    return project_path("seeds", "sites")


# ---------------------------------------------------------------------------------------------------
# The frozen authority


def load_authority(path: str | Path | None = None) -> dict:
    """The authority document; FreezeGuardError names the file and the missing or bad key."""
    path = Path(path or frozen_authority_path())
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FreezeGuardError(f"{path}: cannot read the 1A freeze-guard authority ({exc})") from exc
    except ValueError as exc:
        raise FreezeGuardError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("metrics"), dict):
        raise FreezeGuardError(f"{path}: key 'metrics' must be a mapping of metric -> value")
    for key in ("authority_version", "source"):
        if key not in document:
            raise FreezeGuardError(f"{path}: required key '{key}' is missing")
    if not isinstance(document["source"], dict) or "policy_sha256" not in document["source"]:
        raise FreezeGuardError(f"{path}: required key 'source.policy_sha256' is missing")
    return document


def authority_document(policy_path: Path | None = None, catalogue_seed: int = AUTHORITY_SEED,
                       countries: pd.DataFrame | None = None, places: pd.DataFrame | None = None) -> dict:
    """The authority as generated now from a policy: the frozen file must equal this.

    The surrogate is stochastic, so its representative values are the mean of each metric over the
    catalogues of the certification seeds (as 1B derives them from base `catalogue_seed`); a boolean
    check holds only if it holds for all of them. One draw alone sits up to ~0.01 from another draw on
    top-10 share and Gini, the guard's own tolerance.
    """
    policy_path = Path(policy_path or authority_prior_path())
    countries = geodata.load_countries() if countries is None else countries
    places = geodata.load_places(0) if places is None else places
    seeds = certification_seeds()
    per_seed = []
    for seed in seeds:
        simulation = sources.outlet_simulation(Path(policy_path), sources.catalogue_seed_for(catalogue_seed, seed),
                                               countries, places)
        per_seed.append(outlet_catalogue_metrics(simulation.catalogue, simulation.merchants["phi"]))
    metrics = _representative(per_seed)
    bands = load_bands()
    b_passes = band_passes(metrics, bands, "B")
    return {
        "authority_version": AUTHORITY_VERSION,
        "note": ("Frozen Segment 1A authority for the 1B freeze guard (segment_1b.md §5, task card §2.0): "
                 "1A metrics of the surrogate outlet catalogue under the untuned population-proportional prior "
                 "(outlets_1a_population_proportional.yaml), not of the candidate default: the mean of each "
                 "metric over the catalogues of the certification seeds (base catalogue seed 42). "
                 "Do not edit by hand: any other catalogue is a reopened 1A candidate that must PASS against "
                 "this file. The candidate-set metrics (candidate_count_median, "
                 "spearman_candidates_realized, realization_ratio_median) need a candidate set the surrogate "
                 "does not have and are absent; phi metrics come from the surrogate's per-merchant NB dispersion."),
        "bands_version": bands["bands_version"],
        "source": {
            "generator": "gatehouse.sites.inputs.outlets.simulate_outlets",
            "policy_file": _project_relative(Path(policy_path)),
            "policy_version": outlets.load_outlet_policy(policy_path)["policy_version"],
            "policy_sha256": sha256_file(Path(policy_path)),
            "catalogue_seed": int(catalogue_seed),
            "certification_seeds": list(seeds),
            "countries_sha256": sha256_file(geodata.natural_earth_zip_path()),
            "places_sha256": sha256_file(geodata.geonames_path()),
        },
        "metrics": metrics,
        "summary": {
            "b_pass_count": sum(b_passes.values()),
            "b_plus_pass_count": sum(band_passes(metrics, bands, "B_plus").values()),
            "b_bands_reported": sum(metrics.get(name) is not None for name in bands["metrics"]),
            "hard_gates": hard_gate_passes(metrics, bands),
        },
    }


def certification_seeds() -> tuple[int, ...]:
    """The certification seeds of seed file certification_seeds.csv (one place for the set)."""
    return tuple(int(seed) for seed in pd.read_csv(sites_seeds_dir() / "certification_seeds.csv")["seed"])


def _representative(per_seed: list[dict]) -> dict:
    """Mean of numeric metrics, all() of boolean checks, over the per-seed metric dicts."""
    merged = {}
    for name in per_seed[0]:
        values = [metrics.get(name) for metrics in per_seed]
        if any(value is None for value in values):
            merged[name] = None
        elif all(isinstance(value, bool) for value in values):
            merged[name] = all(values)
        else:
            merged[name] = float(np.mean(values))
    return merged


def write_authority(path: Path | None = None, replace: bool = False) -> Path:
    """Write the authority file once; an existing authority is only replaced when asked explicitly."""
    path = Path(path or frozen_authority_path())
    if path.exists() and not replace:
        raise FreezeGuardError(f"{path}: the 1A authority already exists and is frozen (replace=True to re-freeze)")
    path.write_text(json.dumps(authority_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _project_relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(project_dir()).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------------
# phi of a catalogue


def catalogue_phi(inputs: sources.SitesInputs, catalogue: pd.DataFrame, seed: int, countries: pd.DataFrame | None,
                  places: pd.DataFrame | None) -> tuple[np.ndarray | None, str]:
    """(per-merchant phi or None, where it came from) for the catalogue of 1B seed `seed`."""
    if inputs.catalogue_path is not None:
        return user_catalogue_phi(inputs.catalogue_path, catalogue)
    simulation = sources.surrogate_simulation(inputs, countries, places, seed)
    regenerated = simulation.catalogue[CATALOGUE_COLUMNS].reset_index(drop=True)
    staged = catalogue.sort_values(["merchant_id", "legal_country_iso", "site_order"],
                                   kind="stable")[CATALOGUE_COLUMNS].reset_index(drop=True)
    source = (f"{policy.outlet_policy_path(inputs.policy_dir).name}, catalogue seed "
              f"{sources.catalogue_seed_for(inputs.catalogue_seed, seed)} of 1B seed {seed}")
    if not _same_rows(regenerated, staged):
        return None, f"not available: the surrogate regenerated ({source}) differs from the staged catalogue"
    return simulation.merchants["phi"].to_numpy(), f"surrogate regenerated ({source})"


def _same_rows(left: pd.DataFrame, right: pd.DataFrame) -> bool:
    if left.shape != right.shape:
        return False
    return all(np.array_equal(left[c].astype(str).to_numpy(), right[c].astype(str).to_numpy()) for c in left.columns)


def user_catalogue_phi(path: Path, catalogue: pd.DataFrame) -> tuple[np.ndarray | None, str]:
    """The optional per-merchant ``phi`` column of a user catalogue parquet (constant per merchant, > 0)."""
    import pyarrow.parquet as pq

    if PHI_COLUMN not in pq.read_schema(path).names:
        return None, f"not available: {path} has no column {PHI_COLUMN} (per-merchant NB dispersion)"
    frame = pd.read_parquet(path, columns=["merchant_id", PHI_COLUMN])
    phi = pd.to_numeric(frame[PHI_COLUMN], errors="coerce")
    if phi.isna().any() or not np.isfinite(phi).all() or (phi <= 0).any():
        raise FreezeGuardError(f"{path}: column {PHI_COLUMN} must be a finite number > 0 on every row")
    per_merchant = phi.groupby(frame["merchant_id"]).agg(["min", "max"])
    if (per_merchant["min"] != per_merchant["max"]).any():
        raise FreezeGuardError(f"{path}: column {PHI_COLUMN} must be constant within each merchant_id")
    if len(per_merchant) != catalogue["merchant_id"].nunique():
        raise FreezeGuardError(f"{path}: column {PHI_COLUMN} does not cover the catalogue's merchants")
    return per_merchant["min"].to_numpy(), f"user catalogue column {PHI_COLUMN}"


# ---------------------------------------------------------------------------------------------------
# Evaluation


def guard_catalogue(catalogue: pd.DataFrame, phi: Any = None, authority: Mapping | None = None,
                    bands: Mapping | None = None) -> dict:
    """§5 freeze guard of one catalogue against the authority: ``freeze_guard``'s result plus the
    candidate and authority metrics."""
    authority = load_authority() if authority is None else authority
    bands = load_bands() if bands is None else bands
    metrics = outlet_catalogue_metrics(catalogue, phi)
    result = freeze_guard(metrics, authority["metrics"], bands)
    return {**result, "metrics": metrics, "authority_metrics": dict(authority["metrics"]),
            "authority_version": authority["authority_version"],
            "authority_policy_sha256": authority["source"]["policy_sha256"]}


def evaluate_catalogue(inputs: sources.SitesInputs, catalogue: pd.DataFrame, seed: int,
                       countries: pd.DataFrame | None = None, places: pd.DataFrame | None = None,
                       authority_path: Path | None = None) -> dict:
    """phi + guard + country mix for the catalogue of one 1B seed; any exception becomes a FAIL result
    naming it (fail closed)."""
    try:
        authority = load_authority(authority_path)
        phi, phi_source = catalogue_phi(inputs, catalogue, seed, countries, places)
        result = guard_catalogue(catalogue, phi, authority)
        mix_reasons = country_mix_reasons(catalogue, countries if countries is not None else geodata.load_countries())
    except Exception as exc:  # §5: a scoring exception is a FAIL, never a pass by omission
        return {"status": "FAIL", "reasons": [f"scoring error: {type(exc).__name__}: {exc}"], "eligible_B": False,
                "b_pass_count": 0, "authority_b_pass_count": None, "metrics": {}, "authority_metrics": {},
                "hard_gates": {}, "b_passes": {}, "phi_source": "not evaluated", "authority_version": None,
                "authority_policy_sha256": None}
    if phi is None and result["status"] == "FAIL":
        result["reasons"] = [*result["reasons"], f"phi {phi_source}"]
    if mix_reasons:
        result = {**result, "status": "FAIL", "reasons": [*mix_reasons, *result["reasons"]]}
    return {**result, "phi_source": phi_source}


def evaluate_catalogues(inputs: sources.SitesInputs, catalogue: pd.DataFrame, countries: pd.DataFrame | None = None,
                        places: pd.DataFrame | None = None, authority_path: Path | None = None) -> dict[int, dict]:
    """evaluate_catalogue for every seed of a per-seed catalogue (column `seed`); a user catalogue is the
    same for every seed, so it is evaluated once."""
    per_seed = catalogue.groupby("seed", sort=True)
    if inputs.catalogue_path is not None:
        seed, rows = next(iter(per_seed))
        result = evaluate_catalogue(inputs, rows.drop(columns="seed"), int(seed), countries, places, authority_path)
        return {int(seed): result for seed in per_seed.groups}
    return {int(seed): evaluate_catalogue(inputs, rows.drop(columns="seed"), int(seed), countries, places,
                                          authority_path)
            for seed, rows in per_seed}


# ---------------------------------------------------------------------------------------------------
# Country mix: plausibility P-1 and P-2 on the catalogue (thresholds from seeds/sites/plausibility_*.csv)


def plausibility_rules() -> dict:
    """{'min_population', 'max_unpopulated_sites', 'min_spearman'} from the plausibility seeds."""
    checks = pd.read_csv(sites_seeds_dir() / "plausibility_checks.csv").set_index("check_id")["threshold"]
    parameters = pd.read_csv(sites_seeds_dir() / "plausibility_parameters.csv").set_index("parameter")["value"]
    return {"min_population": float(parameters["populated_min_population"]),
            "max_unpopulated_sites": float(checks["P-1"]), "min_spearman": float(checks["P-2"])}


def country_mix_reasons(catalogue: pd.DataFrame, countries: pd.DataFrame, rules: Mapping | None = None) -> list[str]:
    """E304 for sites in territories below the populated minimum (naming each territory and its count);
    E305 when site counts do not rank-follow population (Spearman over the populated countries of
    `countries`, a country without sites counting 0)."""
    rules = plausibility_rules() if rules is None else rules
    population = sources.iso_codes_table().set_index("country_iso")["population"]
    counts = catalogue.groupby("legal_country_iso").size()
    in_unpopulated = counts[counts.index.map(population).fillna(0) < rules["min_population"]]
    reasons = []
    if in_unpopulated.sum() > rules["max_unpopulated_sites"]:
        listed = ", ".join(f"{iso} {n} site(s), {int(population.get(iso, 0))} inhabitants"
                           for iso, n in in_unpopulated.items())
        reasons.append(f"E304_UNPOPULATED_TERRITORY: legal_country_iso has sites in territories with fewer than "
                       f"{rules['min_population']:.0f} inhabitants (GeoNames): {listed}")
    universe = countries["country_iso"][countries["country_iso"].map(population).fillna(0) >= rules["min_population"]]
    rho = spearman(counts.reindex(universe).fillna(0).to_numpy(), universe.map(population).to_numpy())
    if not rho >= rules["min_spearman"]:
        reasons.append(f"E305_COUNTRY_MIX_RANK: site counts per legal country do not follow population: Spearman "
                       f"{rho:.3f} < {rules['min_spearman']} over {len(universe)} populated countries")
    return reasons


def spearman(x, y) -> float:
    """Spearman rank correlation with average ranks for ties (NaN when a side is constant)."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def guard_table(result: Mapping, bands: Mapping | None = None) -> pd.DataFrame:
    """One row per banded metric (reference §5 order), with the guard verdict repeated on every row."""
    bands = load_bands() if bands is None else bands
    authority_metrics = result["authority_metrics"]
    authority_b = band_passes(authority_metrics, bands, "B") if authority_metrics else {}
    rows = []
    for name, spec in bands["metrics"].items():
        low, high = _band_ends(spec["B"])
        candidate = result["metrics"].get(name)
        rows.append({
            "metric": name,
            "candidate_value": _number(candidate),
            "authority_value": _number(authority_metrics.get(name)),
            "b_low": low, "b_high": high, "b_band": _band_text(spec["B"]),
            "is_reported": candidate is not None,
            "b_pass": bool(result["b_passes"].get(name, False)),
            "authority_b_pass": bool(authority_b.get(name, False)),
            "hard_gate": name in bands["hard_gates"],
            "hard_gate_pass": result["hard_gates"].get(name) if name in bands["hard_gates"] else None,
            "guard_status": result["status"],
            "eligible_b": bool(result["eligible_B"]),
            "b_pass_count": int(result["b_pass_count"]),
            "authority_b_pass_count": result["authority_b_pass_count"],
            "guard_reasons": "; ".join(result["reasons"]),
            "phi_source": result["phi_source"],
            "authority_version": result["authority_version"],
            "authority_policy_sha256": result["authority_policy_sha256"],
        })
    return pd.DataFrame(rows, columns=GUARD_COLUMNS).astype(
        {"candidate_value": "Float64", "authority_value": "Float64", "b_low": "Float64", "b_high": "Float64",
         "authority_b_pass_count": "Int64", "hard_gate_pass": "boolean"})


def _number(value: Any) -> float | None:
    """Metric value as a float (booleans as 1.0/0.0); None when not reported."""
    if value is None:
        return None
    return float(value)


def _band_ends(band: Any) -> tuple[float | None, float | None]:
    if isinstance(band, bool):
        return (1.0, 1.0) if band else (0.0, 0.0)
    return (None if band[0] is None else float(band[0]), None if band[1] is None else float(band[1]))


def _band_text(band: Any) -> str:
    if isinstance(band, bool):
        return "true" if band else "false"
    low, high = band
    if high is None:
        return f">= {low:g}"
    if low is None:
        return f"<= {high:g}"
    return f"[{low:g}, {high:g}]"


__all__ = ["frozen_authority_path", "FreezeGuardError", "authority_document", "catalogue_phi",
           "country_mix_reasons", "evaluate_catalogue", "evaluate_catalogues", "guard_catalogue", "guard_table",
           "load_authority", "write_authority"]
