"""Multistep-regression (MR) estimate of the branching parameter m (Wilting & Priesemann 2018), a
second estimator beside the lattice b_*.

For an activity series a_t with E[a_{t+1} | a_t] = m a_t + h, observed through any random subsampling,
the regression slope of a_{t+k} on a_t is r_k = b m^k: subsampling changes the prefactor b, not the
decay, so m is read from how r_k decays with k (fit r_k = b m^k over k = 1..k_max), not from r_1.

Two ways to pool trials (here: the calibration sequences):
- trial-separated: r_k = mean over trials of Cov_trial(a_t, a_{t+k}) / Var_trial(a_t) (each trial's own
  mean and variance); for long trials (the token axis).
- stationary-mean: one mean and one variance over all trials and times, r_k = [Σ (a_t - μ)(a_{t+k} - μ)
  / #pairs] / [Σ (a_t - μ)^2 / #values]; for short axes with many trials (the layer axis, L values per
  sequence), where per-trial moments are useless.

The pipeline's series per sequence: along tokens a_t = Σ_l A[l, t], along layers a_l = Σ_t A[l, t].
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

TRIAL_SEPARATED, STATIONARY_MEAN = "trial_separated", "stationary_mean"


def coefficients_trial_separated(trials: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """r_k averaged over the trials with a non-zero variance."""
    trials = np.asarray(trials, dtype=np.float64)
    means = trials.mean(axis=1, keepdims=True)
    variances = trials.var(axis=1)
    usable = variances > 0
    result = np.full(steps.size, np.nan)
    if not usable.any():
        return result
    centred = trials[usable] - means[usable]
    lagged_sums = _lagged_product_sums(centred)  # [trials, T]: Σ_t c_t c_{t+k} at column k
    pairs = trials.shape[1] - steps
    return np.mean(lagged_sums[:, steps] / pairs / variances[usable, None], axis=0)


def _lagged_product_sums(centred: np.ndarray) -> np.ndarray:
    """Σ_t c_t c_{t+k} for every lag k of every row (autocorrelation by FFT, zero-padded: no wrap)."""
    length = centred.shape[1]
    spectrum = np.fft.rfft(centred, n=2 * length, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=2 * length, axis=1)[:, :length]


def coefficients_stationary_mean(trials: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """r_k with one mean and one variance pooled over all trials and times."""
    trials = np.asarray(trials, dtype=np.float64)
    centred = trials - trials.mean()
    variance = (centred * centred).mean()
    if variance <= 0:
        return np.full(steps.size, np.nan)
    pairs = trials.shape[0] * (trials.shape[1] - steps)
    return _lagged_product_sums(centred).sum(axis=0)[steps] / pairs / variance


M_SEARCH = (1e-4, 1.5)  # m is searched in this range


def _residuals_after_best_prefactors(powers: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """Σ_k (r_k - b m^k)^2 at the least-squares b of each row of powers [..., k] = m^k.

    Products are summed by numpy (fixed pairwise order), not by BLAS (`@`), whose kernel OpenBLAS picks
    per CPU model with its own summation order: the same inputs would give other last bits on another
    machine. The residual is summed directly, not as Σ r^2 - (Σ r m^k)^2 / Σ m^2k, which cancels to
    rounding noise near the minimum and leaves the search nothing to resolve there."""
    prefactors = (powers * coefficients).sum(axis=-1) / (powers * powers).sum(axis=-1)
    return ((coefficients - prefactors[..., None] * powers) ** 2).sum(axis=-1)


def _residual_after_best_prefactor(m: float, steps: np.ndarray, coefficients: np.ndarray) -> float:
    return float(_residuals_after_best_prefactors(np.power(m, steps), coefficients))


def fit_exponential(steps: np.ndarray, coefficients: np.ndarray) -> tuple[float, float]:
    """(m, b) of r_k = b m^k by least squares; NaN when the coefficients do not decay (r_1 <= 0) or the
    best m sits at the edge of M_SEARCH.
    For a given m the best b is linear least squares, so only m is searched: a grid over M_SEARCH, then
    a bounded scalar minimisation between the grid neighbours of the best grid point."""
    finite = np.isfinite(coefficients)
    steps, coefficients = steps[finite].astype(np.float64), coefficients[finite]
    if steps.size < 2 or coefficients[0] <= 0:
        return float("nan"), float("nan")
    grid = np.linspace(*M_SEARCH, 1501)
    powers = np.power(grid[:, None], steps[None, :])
    residuals = _residuals_after_best_prefactors(powers, coefficients)
    best = int(np.argmin(residuals))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    found = minimize_scalar(_residual_after_best_prefactor, bounds=(low, high), args=(steps, coefficients),
                            method="bounded", options={"xatol": 1e-12})
    m = float(found.x) if found.fun <= residuals[best] else float(grid[best])
    if m <= grid[1] or m >= grid[-2]:
        return float("nan"), float("nan")  # the best fit sits at the edge of the search: no decay to read
    powers = np.power(m, steps)
    return m, float((coefficients * powers).sum() / (powers * powers).sum())


def mr_estimate(trials: np.ndarray, k_max: int, method: str) -> dict[str, float]:
    """m, the prefactor b, tau = -1/ln m (in steps) and r_1 of trials [n_trials, length]."""
    trials = np.asarray(trials, dtype=np.float64)
    k_max = int(min(k_max, trials.shape[1] - 1))
    if k_max < 2:
        return {"m": float("nan"), "b": float("nan"), "tau": float("nan"), "r1": float("nan"), "k_max": k_max}
    steps = np.arange(1, k_max + 1)
    estimate = coefficients_trial_separated if method == TRIAL_SEPARATED else coefficients_stationary_mean
    coefficients = estimate(trials, steps)
    m, b = fit_exponential(steps, coefficients)
    tau = -1.0 / np.log(m) if np.isfinite(m) and 0 < m < 1 else float("nan")
    return {"m": m, "b": b, "tau": float(tau), "r1": float(coefficients[0]), "k_max": k_max}


def token_steps(seq_len: int) -> int:
    """k_max along tokens: T / 10 (the mrestimator default), at least 2."""
    return max(2, seq_len // 10)


def layer_steps(n_layers: int) -> int:
    """k_max along layers: L / 4 (a short axis: T / 10 would leave 2 steps for L = 28), at least 2."""
    return max(2, n_layers // 4)


def condition_series(seq_index: np.ndarray, layer: np.ndarray, token: np.ndarray, spikes: np.ndarray,
                     n_sequences: int, n_layers: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Activity per sequence along tokens [N, T] (Σ over layers) and along layers [N, L] (Σ over tokens)."""
    weights = np.asarray(spikes, dtype=np.float64)
    along_tokens = np.bincount(seq_index * seq_len + token, weights, minlength=n_sequences * seq_len)
    along_layers = np.bincount(seq_index * n_layers + layer, weights, minlength=n_sequences * n_layers)
    along_tokens, along_layers = along_tokens.reshape(n_sequences, seq_len), along_layers.reshape(n_sequences, n_layers)
    return along_tokens, along_layers


def condition_estimates(along_tokens: np.ndarray, along_layers: np.ndarray) -> dict[str, float]:
    """The MR columns of one condition: tokens trial-separated, layers stationary-mean."""
    tokens = mr_estimate(along_tokens, token_steps(along_tokens.shape[1]), TRIAL_SEPARATED)
    layers = mr_estimate(along_layers, layer_steps(along_layers.shape[1]), STATIONARY_MEAN)
    return {"mr_m_tokens": tokens["m"], "mr_tau_tokens": tokens["tau"], "mr_r1_tokens": tokens["r1"],
            "mr_k_max_tokens": tokens["k_max"], "mr_m_layers": layers["m"], "mr_tau_layers": layers["tau"],
            "mr_r1_layers": layers["r1"], "mr_k_max_layers": layers["k_max"]}
