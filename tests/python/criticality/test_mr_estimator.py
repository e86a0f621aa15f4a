"""The MR estimator against known m (driven Poisson branching processes, full and binomially
subsampled) and against the `mrestimator` package on the same data (criticality_anchors §1.2, §2)."""

import os
import platform
import subprocess
import sys
import warnings

import mrestimator as mre
import numpy as np
import pytest

from gatehouse.criticality import mr_estimator as mr


def driven_branching(m: float, h: float, length: int, n_trials: int, seed: int, thermalise: int = 2000) -> np.ndarray:
    """A_{t+1} ~ Poisson(m A_t + h), started at the stationary mean, burn-in dropped: [n_trials, length]."""
    rng = np.random.default_rng(seed)
    activity = np.full(n_trials, h / (1 - m))
    out = np.empty((n_trials, length))
    for t in range(thermalise + length):
        activity = rng.poisson(m * activity + h).astype(np.float64)
        if t >= thermalise:
            out[:, t - thermalise] = activity
    return out


def reference_m(data: np.ndarray, steps: np.ndarray, method: str) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coefficients = mre.coefficients(data, steps=steps, method=method, dt=1)
        return float(mre.fit(coefficients, fitfunc="exponential").mre)


@pytest.fixture(scope="module")
def long_series():
    return {m: driven_branching(m, h=10, length=100_000, n_trials=1, seed=1) for m in (0.9, 0.98)}


@pytest.mark.parametrize("m, k_max", [(0.9, 40), (0.98, 100)])
def test_full_sampling_recovers_m_and_agrees_with_mrestimator(long_series, m, k_max):
    data = long_series[m]
    estimate = mr.mr_estimate(data, k_max, mr.TRIAL_SEPARATED)
    assert estimate["m"] == pytest.approx(m, abs=0.01)
    assert estimate["r1"] == pytest.approx(m, abs=0.01)  # full sampling: the conventional estimate works too
    assert estimate["m"] == pytest.approx(reference_m(data, np.arange(1, k_max + 1), "ts"), abs=1e-3)


@pytest.mark.parametrize("m, k_max", [(0.9, 40), (0.98, 100)])
def test_binomial_subsampling_biases_r1_but_not_mr(long_series, m, k_max):
    alpha = 0.1
    data = np.random.default_rng(2).binomial(long_series[m].astype(np.int64), alpha).astype(np.float64)
    estimate = mr.mr_estimate(data, k_max, mr.TRIAL_SEPARATED)
    prefactor = alpha / (alpha + (1 - alpha) * (1 - m ** 2))  # closed form for the driven Poisson BP
    assert estimate["r1"] == pytest.approx(prefactor * m, abs=0.01)
    assert estimate["m"] == pytest.approx(m, abs=0.02)
    assert estimate["m"] == pytest.approx(reference_m(data, np.arange(1, k_max + 1), "ts"), abs=1e-3)


def test_stationary_mean_recovers_m_on_a_short_axis():
    """Many short trials (like the 28 layers of a sequence): pooled moments, as mrestimator's 'sm'."""
    data = driven_branching(0.9, h=10, length=12, n_trials=4000, seed=3)
    estimate = mr.mr_estimate(data, 6, mr.STATIONARY_MEAN)
    assert estimate["m"] == pytest.approx(0.9, abs=0.02)
    assert estimate["m"] == pytest.approx(reference_m(data, np.arange(1, 7), "sm"), abs=0.01)


def test_exact_exponential_coefficients_are_fitted_exactly():
    steps = np.arange(1, 11)
    m, b = mr.fit_exponential(steps, 0.4 * 0.83 ** steps)
    assert m == pytest.approx(0.83, abs=1e-9) and b == pytest.approx(0.4, abs=1e-9)


def test_no_decay_gives_nan():
    assert np.isnan(mr.fit_exponential(np.arange(1, 5), np.array([-0.1, 0.0, 0.05, -0.02]))[0])


def test_condition_series_sum_the_raster_along_each_axis():
    along_tokens, along_layers = mr.condition_series(np.array([0, 0, 1]), np.array([0, 1, 1]), np.array([2, 2, 0]),
                                                     np.array([3, 1, 5]), n_sequences=2, n_layers=2, seq_len=3)
    assert along_tokens.tolist() == [[0, 0, 4], [5, 0, 0]]
    assert along_layers.tolist() == [[3, 1], [0, 5]]


FIT_SCRIPT = """import numpy as np
from gatehouse.criticality.mr_estimator import fit_exponential
steps = np.arange(1, 11)
print(repr(fit_exponential(steps, 0.4 * 0.83 ** steps)))"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the OpenBLAS core types named are x86-64 ones")
def test_the_fit_gives_the_same_bits_whatever_blas_kernel_the_cpu_gets():
    """OpenBLAS picks its kernels by CPU model, each summing in its own order (OPENBLAS_CORETYPE forces one):
    an AMD EPYC with AVX-512 gets Haswell's, an Intel Xeon SkylakeX's. The fit must not depend on it."""
    fits = {subprocess.run([sys.executable, "-c", FIT_SCRIPT], env={**os.environ, "OPENBLAS_CORETYPE": core},
                           capture_output=True, text=True, check=True).stdout for core in ("Prescott", "Haswell")}
    assert len(fits) == 1, fits
