"""Deterministic synthetic spikes with a known answer (the embedded default data).

For each (model_role, gain, sequence) a latent occupancy lattice Y[l, t] is drawn: every layer
is a two-state Markov chain along tokens with persistence a(g) and stationary occupancy p, and
with probability c(g) a layer repeats the chain of the layer below it (depth coupling). Each
occupied site emits one anchor unit far above every threshold plus a burst of strong units, so
after rate matching X = Y and, in expectation,
    b_time = a(g) (T-1)/T,  b_depth = (c(g) + (1-c(g)) p) (L-1)/L.
Gain also scales each layer's activation spread, sigma_l(g) = 1 + 0.3 (g-1) (l+1)/L, which moves
the rate-matched thresholds tau_l(g). Background units are Gaussian; only the values above the
stored floor (5 sigma) become event rows, while the summaries carry what a full pass over all
N*T*d_ff values would give (count, extremes, count above TAU0_BASELINE), drawn from their exact
distributions instead of materialising billions of values.

Presets: `crossing` puts b_tot(g) = 1 exactly (in expectation) at a known grid gain per model
role; `flat` keeps b_tot well below 1 and nearly constant in g, like the published 7B result.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

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
    """Latent structure. The anchors alone (p / d_ff per layer) must stay below the smallest target
    rate and the bursts must reach the largest one, with room for per-layer occupancy noise."""
    occupancy: float = 0.02          # stationary share of occupied sites, p
    persistence: float = 0.55        # a at the crossing gain (or at every gain when flat)
    coupling_slope: float = 1.0      # d a / d g and d c / d g
    crossing_gain: dict | None = field(default_factory=lambda: {"INSTRUCT": 1.05, "BASE": 1.1})
    flat_layer_copy: float = 0.2     # c when there is no crossing
    burst_mean: float = 32.0         # strong units per occupied site besides the anchor
    floor_sigmas: float = 5.0


PRESETS = {
    "crossing": Preset(),
    "flat": Preset(persistence=0.25, coupling_slope=0.03, crossing_gain=None),
}


def layer_sigma(gain: float, n_layers: int) -> np.ndarray:
    return 1.0 + 0.3 * (gain - 1.0) * (np.arange(n_layers) + 1) / n_layers


def coupling(preset: Preset, role: str, gain: float, lattice: Lattice) -> tuple[float, float]:
    """(a, c) at gain g. For `crossing`, c at the crossing gain g* makes the expected b_tot exactly 1."""
    p, L, T = preset.occupancy, lattice.n_layers, lattice.seq_len
    if preset.crossing_gain is None:
        return preset.persistence + preset.coupling_slope * (gain - 1.0), preset.flat_layer_copy
    shift = preset.coupling_slope * (gain - preset.crossing_gain[role])
    depth_share = (1.0 - preset.persistence * (T - 1) / T) * L / (L - 1)  # c + (1 - c) p at g*
    copy_at_crossing = (depth_share - p) / (1.0 - p)
    return (float(np.clip(preset.persistence + shift, 0.02, 0.9)),
            float(np.clip(copy_at_crossing + shift, 0.0, 0.9)))


def expected_b_tot(preset: Preset, role: str, gain: float, lattice: Lattice = Lattice()) -> float:
    """The generator's b_tot in expectation (all-occupied-sites denominator)."""
    p, L, T = preset.occupancy, lattice.n_layers, lattice.seq_len
    a, c = coupling(preset, role, gain, lattice)
    return a * (T - 1) / T + (c + (1 - c) * p) * (L - 1) / L


def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256("|".join(map(str, (seed, *parts))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def latent_occupancy(uniforms: np.ndarray, copies: np.ndarray, a: float, p: float) -> np.ndarray:
    """Markov chains along tokens from shared uniforms [N, L, T]; `copies` [N, L] repeats layer below."""
    enter = p * (1 - a) / (1 - p)  # P(0 -> 1) that keeps occupancy p stationary
    occupied = np.empty(uniforms.shape, dtype=bool)
    occupied[:, :, 0] = uniforms[:, :, 0] < p
    for t in range(1, uniforms.shape[2]):
        occupied[:, :, t] = uniforms[:, :, t] < np.where(occupied[:, :, t - 1], a, enter)
    for layer in range(1, uniforms.shape[1]):
        occupied[copies[:, layer], layer, :] = occupied[copies[:, layer], layer - 1, :]
    return occupied


def _burst_events(rng, occupied, sigma, burst_mean):
    seq, layer, token = np.nonzero(occupied)
    n_units = 1 + rng.poisson(burst_mean, size=seq.size)
    site = np.repeat(np.arange(seq.size), n_units)
    rank = np.arange(site.size) - np.repeat(np.cumsum(n_units) - n_units, n_units)
    z = np.where(rank == 0, 12.0 + 0.5 * rng.random(site.size), 6.5 + rng.exponential(1.0, site.size))
    return seq[site], layer[site], token[site], rank, z * sigma[layer[site]], n_units


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


def generate(preset_name: str = "crossing", seed: int = 1337, roles=("INSTRUCT", "BASE"),
             lattice: Lattice = Lattice(), gains=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (model_role, gain, seq_id, token, layer, unit, z) and per-layer summaries."""
    if preset_name not in PRESETS:
        raise ValueError(f"unknown synthetic preset {preset_name!r}; choose one of {sorted(PRESETS)}")
    preset, constants = PRESETS[preset_name], canon()
    gains = constants["gain_grid"] if gains is None else gains
    L, T, N = lattice.n_layers, lattice.seq_len, lattice.n_sequences
    events, summaries = [], []
    for role in roles:
        shared = _rng(seed, role, "latent")  # common random numbers across gains
        uniforms, copy_draws = shared.random((N, L, T)), shared.random((N, L))
        for gain in gains:
            rng, sigma = _rng(seed, role, gain), layer_sigma(gain, L)
            a, c = coupling(preset, role, gain, lattice)
            occupied = latent_occupancy(uniforms, copy_draws < c, a, preset.occupancy)
            b_seq, b_layer, b_token, b_unit, b_z, n_units = _burst_events(rng, occupied, sigma, preset.burst_mean)
            first_free = np.zeros((L, N, T), dtype=np.int64)
            seq_o, layer_o, token_o = np.nonzero(occupied)
            first_free[layer_o, seq_o, token_o] = n_units
            g_seq, g_layer, g_token, g_unit, g_z = _background_events(
                rng, lattice, sigma, preset.floor_sigmas, first_free)
            frame = pd.DataFrame({
                "model_role": role, "gain": gain,
                "seq_id": np.r_[b_seq, g_seq].astype(np.int32),
                "token": np.r_[b_token, g_token].astype(np.int32),
                "layer": np.r_[b_layer, g_layer].astype(np.int32),
                "unit": np.r_[b_unit, g_unit].astype(np.int32),
                "z": np.r_[b_z, g_z].astype(np.float32),
            })
            events.append(frame)
            z_by_layer = [frame.z.to_numpy(np.float64)[frame.layer.to_numpy() == l] for l in range(L)]
            n_strong = np.bincount(b_layer, minlength=L)
            summaries.extend(_summaries(rng, role, gain, lattice, sigma, z_by_layer, n_strong,
                                        preset.floor_sigmas, constants["tau0_baseline"]))
    events_frame = pd.concat(events, ignore_index=True)
    events_frame = events_frame.sort_values(["model_role", "gain", "seq_id", "layer", "token", "unit"],
                                            ignore_index=True)
    return events_frame, pd.DataFrame(summaries)
