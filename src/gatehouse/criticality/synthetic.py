"""Deterministic synthetic spikes with a known answer (the embedded default data).

Mechanism. For each (model_role, gain, sequence) a latent activation field F[l, t] is drawn: a
stationary Gaussian field (unit variance) whose correlation between neighbouring tokens and between
neighbouring layers is rho(g), built as an AR(1) along tokens in every layer and an AR(1) across
layers. Every site carries one strong event per 1 + Poisson(companions) units, of graded magnitude:
the site's units share |z| = sigma_l(g) h(F), h increasing, so strong sites are strong because the
field is high there; a share `negative_share` of the sites carry negative z (SwiGLU's u is negative
where `up` is). Rate matching then keeps the units above tau_l(g): the occupied raster X is an
excursion set {F > u} of the field, and the target rate sets its level u. A lower threshold (higher
target rate) admits weaker sites, which sit at the rims of the strong ones and join or grow the
clusters, so b_tot rises with the target rate at every gain, as in a real network (published 7B
table: about 0.6, 0.83, 1.10, 1.39 over 1e-5..8e-5). The two spike definitions differ in the same
way as there: SPIKE_ONE_SIDED_POS drops the negative sites at random and reaches its rate from a
lower, thinned level set, which has fewer neighbour pairs than the unthinned set of
SPIKE_TWO_SIDED_ABS (|z|), so b_tot is higher for the two-sided definition.

Known answer. Everything above has a closed form (`expected_b_tot`): with s the share of sites above
u and C = P(F' > u | F > u) = 1 - 2 T(u, sqrt((1 - rho)/(1 + rho))) / s (Owen's T), b_time =
k C (T-1)/T and b_depth = k C (L-1)/L, where k is the kept share of a level-set site (1 - negative_share
for the one-sided definition, 1 for the two-sided). Gain sets the correlation on the logit scale,
rho(g) = f + (c - f) expit(logit((rho* - f)/(c - f)) + k (g - g*)), so rho rises over the whole grid
between the floor f = 0.3 (some structure at every gain) and the ceiling c = 0.95 (a longer correlation
does not fit in 28 layers, and the finite lattice would leave the closed form): for `crossing`, rho* makes the expected b_tot of the reference level set (share
`reference_share`, unthinned) exactly 1 at the role's known grid gain g*, and every condition of the
default lattice crosses 1 within one grid step of g* (`expected_crossing_gain` gives each exactly);
`flat` keeps rho near 0.6 and nearly constant (small k), so b_tot depends on the target rate and
the spike definition but hardly on g, and stays below 1: the shape of the published 7B table, whose
b_tot rises from about 0.6 to 1.39 over the four rates (here about 0.43 to 0.91: the rise is the same
factor of about 2, the level lower; `expected_b_tot` gives each value).

Gain also scales each layer's activation spread, sigma_l(g) = 1 + 0.3 (g-1) (l+1)/L, which moves
the rate-matched thresholds tau_l(g). Background units are Gaussian; only the values above the
stored floor (5 sigma) become event rows, while the summaries carry what a full pass over all
N*T*d_ff values would give (count, extremes, count above TAU0_BASELINE), drawn from their exact
distributions instead of materialising billions of values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit, logit, ndtr, ndtri, owens_t

from gatehouse.project import canon

SPIKE_ONE_SIDED, SPIKE_TWO_SIDED = "SPIKE_ONE_SIDED_POS", "SPIKE_TWO_SIDED_ABS"


@dataclass(frozen=True)
class Lattice:
    n_layers: int = 28
    seq_len: int = 256
    n_sequences: int = 64
    d_ff: int = 4096


@dataclass(frozen=True)
class Preset:
    """Latent field and event magnitudes. The stored sites (share `stored_share`, the highest field
    values) must hold every unit the largest target rate admits (`check_lattice`)."""
    correlation_logit_slope: float = 22.0  # d logit((rho - floor) / (ceiling - floor)) / d g
    correlation_floor: float = 0.3     # rho stays above it: some structure at every gain, as in a real network
    correlation_ceiling: float = 0.95  # rho stays below it (beyond, 28 layers are too few for the closed form)
    crossing_gain: dict | None = field(default_factory=lambda: {"INSTRUCT": 1.05, "BASE": 1.1})
    reference_share: float = 0.05    # level set whose expected b_tot is 1 at the crossing gain
    flat_correlation: float = 0.6    # rho at g = 1 when there is no crossing
    companions_mean: float = 1.0     # units per site besides the first: Poisson mean
    negative_share: float = 0.1      # sites whose units have z < 0
    stored_share: float = 0.3        # sites above this share of the field carry stored events
    lead_floor: float = 6.0          # h(F) at the lowest stored field value, in sigma_l(g)
    lead_scale: float = 1.5          # d h / d F
    floor_sigmas: float = 5.0


PRESETS = {
    "crossing": Preset(),
    "flat": Preset(correlation_logit_slope=0.2, crossing_gain=None),
}


def layer_sigma(gain: float, n_layers: int) -> np.ndarray:
    return 1.0 + 0.3 * (gain - 1.0) * (np.arange(n_layers) + 1) / n_layers


# ------------------------------------------------------------------------------- closed forms
def neighbour_share(level_share: float, rho: float) -> float:
    """P(F' > u | F > u) for standard bivariate normal (F, F') with correlation rho, P(F > u) = level_share."""
    u = -ndtri(level_share)
    return float(1.0 - 2.0 * owens_t(u, np.sqrt((1.0 - rho) / (1.0 + rho))) / level_share)


def level_set(preset: Preset, spike_def: str, target_rate: float, lattice: Lattice) -> tuple[float, float]:
    """(share of sites in the level set, share of those that spike) that rate matching selects."""
    occupied = target_rate * lattice.d_ff / (1.0 + preset.companions_mean)
    if spike_def == SPIKE_ONE_SIDED:
        kept = 1.0 - preset.negative_share
        return occupied / kept, kept
    return occupied, 1.0


def _b_tot(level_share: float, kept: float, rho: float, lattice: Lattice) -> float:
    L, T = lattice.n_layers, lattice.seq_len
    return kept * neighbour_share(level_share, rho) * ((T - 1) / T + (L - 1) / L)


def _crossing_correlation(preset: Preset, lattice: Lattice) -> float:
    """rho* at which the reference level set (unthinned) has expected b_tot exactly 1."""
    return _root(lambda rho: _b_tot(preset.reference_share, 1.0, rho, lattice) - 1.0, 1e-6, 1 - 1e-9)


def correlation(preset: Preset, role: str, gain: float, lattice: Lattice = Lattice()) -> float:
    """rho(g), the field's correlation between neighbouring tokens and between neighbouring layers."""
    if preset.crossing_gain is None:
        anchor, anchor_gain = preset.flat_correlation, 1.0
    else:
        anchor, anchor_gain = _crossing_correlation(preset, lattice), preset.crossing_gain[role]
    # on the logit scale, so rho(g) rises through the whole grid and stays between floor and ceiling
    low, high = preset.correlation_floor, preset.correlation_ceiling
    share = expit(logit((anchor - low) / (high - low)) + preset.correlation_logit_slope * (gain - anchor_gain))
    return float(low + (high - low) * share)


def reference_b_tot(preset: Preset, role: str, gain: float, lattice: Lattice = Lattice()) -> float:
    """Expected b_tot of the reference level set (share `reference_share`, unthinned): 1 at g*."""
    return _b_tot(preset.reference_share, 1.0, correlation(preset, role, gain, lattice), lattice)


def expected_b_tot(preset: Preset, role: str, gain: float, spike_def: str, target_rate: float,
                   lattice: Lattice = Lattice()) -> float:
    """The generator's b_tot in expectation for one condition (all-occupied-sites denominator)."""
    share, kept = level_set(preset, spike_def, target_rate, lattice)
    return _b_tot(share, kept, correlation(preset, role, gain, lattice), lattice)


def expected_crossing_gain(preset: Preset, role: str, spike_def: str, target_rate: float,
                           lattice: Lattice = Lattice(), gains=None) -> float | None:
    """The gain where the expected b_tot of a condition crosses 1 inside the grid, else None."""
    gains = sorted(canon()["gain_grid"] if gains is None else gains)
    excess = lambda gain: expected_b_tot(preset, role, gain, spike_def, target_rate, lattice) - 1.0  # noqa: E731
    if excess(gains[0]) * excess(gains[-1]) > 0:
        return None
    return _root(excess, gains[0], gains[-1])


def _root(function, low: float, high: float, tolerance: float = 1e-15) -> float:
    """Bisection for the sign change of `function` on [low, high] (scipy.optimize would add a second to
    the import of every command and Python model that imports this module)."""
    low_sign = function(low) > 0
    while high - low > tolerance * max(1.0, abs(low)):
        middle = 0.5 * (low + high)
        if (function(middle) > 0) == low_sign:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def check_lattice(preset: Preset, lattice: Lattice, target_rates=None) -> None:
    """The largest target rate must find its units among the stored sites."""
    largest = max(canon()["target_rates"] if target_rates is None else target_rates)
    needed = max(level_set(preset, spike_def, largest, lattice)[0] for spike_def in (SPIKE_ONE_SIDED, SPIKE_TWO_SIDED))
    if needed > 0.9 * preset.stored_share:
        raise ValueError(f"synthetic lattice d_ff={lattice.d_ff}: target rate {largest} needs {needed:.3f} of the "
                         f"sites, more than the stored share {preset.stored_share} allows; use a smaller d_ff")


def expected_events_per_sequence(preset: Preset, lattice: Lattice, n_gains: int) -> float:
    """Expected event rows of one sequence over n_gains gains: stored units plus Gaussian background."""
    sites = lattice.n_layers * lattice.seq_len
    stored = sites * preset.stored_share * (1.0 + preset.companions_mean)
    background = sites * lattice.d_ff * 2.0 * ndtr(-preset.floor_sigmas)
    return n_gains * (stored + background)


# ------------------------------------------------------------------------------- generation
def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def latent_field(innovations: np.ndarray, rho: float) -> np.ndarray:
    """Stationary unit-variance field [N, L, T] from i.i.d. normal innovations [N, L, T]: an AR(1)
    along tokens in every layer, mixed across layers by an AR(1), both with correlation rho."""
    scale = np.sqrt(1.0 - rho * rho)
    along_tokens = np.empty_like(innovations)
    along_tokens[:, :, 0] = innovations[:, :, 0]  # the first token is drawn from the stationary law
    for token in range(1, innovations.shape[2]):
        along_tokens[:, :, token] = rho * along_tokens[:, :, token - 1] + scale * innovations[:, :, token]
    field_values = np.empty_like(along_tokens)
    field_values[:, 0] = along_tokens[:, 0]
    for layer in range(1, innovations.shape[1]):
        field_values[:, layer] = rho * field_values[:, layer - 1] + scale * along_tokens[:, layer]
    return field_values


def _site_events(field_values, signs, units, sigma, preset):
    """Stored units of the sites above the stored share: every unit of a site carries the site's z."""
    stored_level = -ndtri(preset.stored_share)
    seq, layer, token = np.nonzero(field_values > stored_level)
    magnitude = preset.lead_floor + preset.lead_scale * (field_values[seq, layer, token] - stored_level)
    z = signs[seq, layer, token] * magnitude * sigma[layer]
    n_units = units[seq, layer, token]
    site = np.repeat(np.arange(seq.size), n_units)
    rank = np.arange(site.size) - np.repeat(np.cumsum(n_units) - n_units, n_units)
    return seq[site], layer[site], token[site], rank, z[site], (seq, layer, token, n_units)


def _background_events(rng, lattice, sigma, floor_sigmas, first_free_unit):
    """Gaussian background units with |z| above the floor, placed uniformly on the lattice."""
    L, T, N = lattice.n_layers, lattice.seq_len, lattice.n_sequences
    tail = 2.0 * ndtr(-floor_sigmas)
    count = rng.binomial(N * T * lattice.d_ff, tail, size=L)
    layer = np.repeat(np.arange(L), count)
    seq, token = rng.integers(0, N, layer.size), rng.integers(0, T, layer.size)
    magnitude = -ndtri(rng.random(layer.size) * tail / 2.0)
    z = np.where(rng.random(layer.size) < 0.5, -magnitude, magnitude) * sigma[layer]
    order = np.lexsort((token, seq, layer))
    seq, layer, token, z = seq[order], layer[order], token[order], z[order]
    site_key = (layer * N + seq) * T + token
    start = np.r_[0, np.flatnonzero(np.diff(site_key)) + 1]
    rank = np.arange(site_key.size) - np.repeat(start, np.diff(np.r_[start, site_key.size]))
    unit = first_free_unit[layer, seq, token] + rank
    return seq, layer, token, unit, z


def _extreme_minimum(rng, n_values: int, two_sided: bool) -> float:
    """Draw min(v) over n i.i.d. standard normal values (v = z or |z|) from its exact distribution."""
    q = -np.expm1(np.log1p(-rng.random()) / n_values)
    return float(ndtri((1.0 + q) / 2.0) if two_sided else ndtri(q))


def _background_maximum(rng, n_values: int, two_sided: bool, below: float) -> float:
    """Draw max(v) over n standard normal values given that none exceeds `below` (no stored event)."""
    cdf_below = (2.0 * ndtr(below) - 1.0) if two_sided else ndtr(below)
    level = cdf_below * np.exp(np.log(rng.random()) / n_values)
    return float(ndtri((1.0 + level) / 2.0) if two_sided else ndtri(level))


def _summaries(rng, role, gain, lattice, sigma, z_by_layer, n_strong, floor_sigmas, tau0):
    rows = []
    n_values = lattice.n_sequences * lattice.seq_len * lattice.d_ff
    for layer in range(lattice.n_layers):
        n_background = n_values - int(n_strong[layer])
        z = z_by_layer[layer]
        for spike_def, v in ((SPIKE_ONE_SIDED, z), (SPIKE_TWO_SIDED, np.abs(z))):
            two_sided = spike_def == SPIKE_TWO_SIDED
            tail_tau0 = (2.0 if two_sided else 1.0) * ndtr(-tau0 / sigma[layer])
            rows.append({
                "model_role": role, "spike_def_id": spike_def, "gain": gain, "layer": layer,
                "n_sequences": lattice.n_sequences, "seq_len": lattice.seq_len, "d_ff": lattice.d_ff,
                "v_min": _extreme_minimum(rng, n_background, two_sided) * sigma[layer],
                "v_max": float(v.max()) if v.size else sigma[layer] * _background_maximum(
                    rng, n_background, two_sided, floor_sigmas),
                "floor": floor_sigmas * float(sigma[layer]),
                "n_above_tau0": int(rng.binomial(n_background, tail_tau0)) + int(n_strong[layer]),
            })
    return rows


def _gain_events(role, gain, seed, lattice, preset, innovations, signs, units):
    L, T, N = lattice.n_layers, lattice.seq_len, lattice.n_sequences
    rng, sigma = _rng(seed, role, gain), layer_sigma(gain, L)
    field_values = latent_field(innovations, correlation(preset, role, gain, lattice))
    s_seq, s_layer, s_token, s_unit, s_z, (seq_o, layer_o, token_o, n_units) = _site_events(
        field_values, signs, units, sigma, preset)
    first_free = np.zeros((L, N, T), dtype=np.int64)
    first_free[layer_o, seq_o, token_o] = n_units
    g_seq, g_layer, g_token, g_unit, g_z = _background_events(rng, lattice, sigma, preset.floor_sigmas, first_free)
    frame = pd.DataFrame({
        "model_role": role, "gain": gain,
        "seq_id": np.r_[s_seq, g_seq].astype(np.int32),
        "token": np.r_[s_token, g_token].astype(np.int32),
        "layer": np.r_[s_layer, g_layer].astype(np.int32),
        "unit": np.r_[s_unit, g_unit].astype(np.int32),
        "z": np.r_[s_z, g_z].astype(np.float32),
    })
    layer_values = frame.layer.to_numpy()
    order = np.argsort(layer_values, kind="stable")
    bounds = np.searchsorted(layer_values[order], np.arange(L + 1))
    z_sorted = frame.z.to_numpy(np.float64)[order]
    z_by_layer = [z_sorted[bounds[layer]:bounds[layer + 1]] for layer in range(L)]
    n_strong = np.bincount(s_layer, minlength=L)
    return frame, _summaries(rng, role, gain, lattice, sigma, z_by_layer, n_strong, preset.floor_sigmas,
                             canon()["tau0_baseline"])


def generate(preset_name: str = "crossing", seed: int = 1337, roles=("INSTRUCT", "BASE"),
             lattice: Lattice = Lattice(), gains=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (model_role, gain, seq_id, token, layer, unit, z) and per-layer summaries."""
    if preset_name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset_name!r}; choose one of {sorted(PRESETS)}")
    preset = PRESETS[preset_name]
    check_lattice(preset, lattice)
    gains = canon()["gain_grid"] if gains is None else gains
    L, T, N = lattice.n_layers, lattice.seq_len, lattice.n_sequences
    events, summaries = {}, []
    for role in roles:
        shared = _rng(seed, role, "latent")  # common random numbers across gains
        innovations = shared.standard_normal((N, L, T))
        signs = np.where(shared.random((N, L, T)) < preset.negative_share, -1.0, 1.0)
        units = 1 + shared.poisson(preset.companions_mean, size=(N, L, T))
        for gain in gains:
            frame, rows = _gain_events(role, gain, seed, lattice, preset, innovations, signs, units)
            events.setdefault((role, gain), []).append(frame)
            summaries.extend(rows)
    return _in_key_order(events), pd.DataFrame(summaries)


def _in_key_order(frames_by_condition: dict[tuple[str, float], list[pd.DataFrame]]) -> pd.DataFrame:
    """All events sorted by (model_role, gain, seq_id, layer, token, unit), stably: the rows of
    DataFrame.sort_values on those columns, without sorting the string column (on the default data that
    sort took 1.2 s of the generator's 1.7 s in a profile)."""
    ordered = []
    for condition in sorted(frames_by_condition):
        frame = pd.concat(frames_by_condition[condition], ignore_index=True)
        ordered.append(frame.take(np.lexsort((frame.unit, frame.token, frame.layer, frame.seq_id))))
    return pd.concat(ordered, ignore_index=True)
