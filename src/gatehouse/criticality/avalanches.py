"""Avalanches: connected components of the occupancy X per sequence (reference §8), and the
signatures of §9 (crackling exponent with its bootstrap CI, descriptive tail fits).

Components are flood-filled from seeds scanned in row-major [L, T] order (layer outer, token inner),
so component_id is the discovery order, i.e. the order of each component's smallest (l, t). Adjacency
4N: (t±1, l), (t, l±1); 8N adds the four diagonals. The lattice does not wrap. size S = Σ A over the
component (spikes), span_tokens D = t_max - t_min + 1, span_layers H = l_max - l_min + 1.
More than MAX_COMPONENTS_PER_SEQUENCE components in one sequence is an error (AvalancheError).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pandas as pd

from gatehouse.criticality.bootstrap import BOOT_REPS, CI_QUANTILES, SEED_BASE, condition_label, seed_from
from gatehouse.criticality.raster_sites import CONDITION_KEYS, SequenceSites, run_starts

MAX_COMPONENTS_PER_SEQUENCE = 20000
ADJACENCIES = {"4N": False, "8N": True}  # adjacency id -> diagonals included
COMPONENT_COLUMNS = ("sequence", "component_id", "size", "n_sites", "t_min", "t_max", "l_min", "l_max")
# crackling (S3): durations kept, minimum distinct durations, maximum CI width for pass
CRACKLING_SPAN = (3, 64)
CRACKLING_MIN_POINTS = 8
CRACKLING_MAX_CI_WIDTH = 0.5
TAIL_QUANTILE, TAIL_MIN_N = 0.8, 100
PICK_CHUNK_VALUES = 1 << 21  # bootstrap indices drawn at once (16 MiB)
SIGNATURE_COLUMNS = ["crackling_gamma", "crackling_ci_low", "crackling_ci_high", "crackling_r2", "crackling_n_points",
                     "crackling_n_avalanches_used", "crackling_pass", "tail_xmin", "alpha_powerlaw",
                     "lambda_exponential", "lognorm_mu", "lognorm_sigma", "ll_powerlaw", "ll_exponential",
                     "ll_lognormal", "llr_powerlaw_vs_lognormal", "llr_powerlaw_vs_exponential", "n_tail"]


class AvalancheError(ValueError):
    """Too many components in one sequence (the lattice is noise, not avalanches)."""


@numba.njit(nogil=True, cache=True)
def _components_kernel(sequence_starts, n_layers, seq_len, layer, token, a, diagonal, limit, out):
    """Fill out [COMPONENT_COLUMNS, components]; return (n_components, -1) or (n, sequence) when a
    sequence exceeds `limit` components."""
    max_l, max_t = n_layers.max(), seq_len.max()
    spikes = np.zeros((max_l, max_t), dtype=np.int64)
    label = np.full((max_l, max_t), -1, dtype=np.int64)
    stack = np.empty(max_l * max_t, dtype=np.int64)
    n_out = 0
    for q in range(sequence_starts.shape[0] - 1):
        L, T = n_layers[q], seq_len[q]
        for i in range(sequence_starts[q], sequence_starts[q + 1]):
            spikes[layer[i], token[i]] = a[i]
        n_components = 0
        for i in range(sequence_starts[q], sequence_starts[q + 1]):  # sites are in (l, t) order
            l0, t0 = layer[i], token[i]
            if label[l0, t0] >= 0 or spikes[l0, t0] <= 0:
                continue
            n_components += 1
            if n_components > limit:
                return n_out, q
            size, n_sites, t_min, t_max, l_min, l_max = 0, 0, t0, t0, l0, l0
            label[l0, t0] = n_components - 1
            depth = 1
            stack[0] = l0 * T + t0
            while depth > 0:
                depth -= 1
                l, t = stack[depth] // T, stack[depth] % T
                size += spikes[l, t]
                n_sites += 1
                t_min, t_max = min(t_min, t), max(t_max, t)
                l_min, l_max = min(l_min, l), max(l_max, l)
                for dl in range(-1, 2):
                    for dt in range(-1, 2):
                        if (dl == 0 and dt == 0) or (not diagonal and dl != 0 and dt != 0):
                            continue
                        nl, nt = l + dl, t + dt
                        if 0 <= nl < L and 0 <= nt < T and spikes[nl, nt] > 0 and label[nl, nt] < 0:
                            label[nl, nt] = n_components - 1
                            stack[depth] = nl * T + nt
                            depth += 1
            row = (q, n_components - 1, size, n_sites, t_min, t_max, l_min, l_max)
            for column in range(8):
                out[column, n_out] = row[column]
            n_out += 1
        for i in range(sequence_starts[q], sequence_starts[q + 1]):
            spikes[layer[i], token[i]] = 0
            label[layer[i], token[i]] = -1
    return n_out, -1


def components(grouped: SequenceSites, diagonal: bool, limit: int = MAX_COMPONENTS_PER_SEQUENCE) -> np.ndarray:
    """[COMPONENT_COLUMNS, n] of every sequence of `grouped`."""
    columns = grouped.columns
    n_sites = columns["a"].size
    out = np.zeros((len(COMPONENT_COLUMNS), max(n_sites, 1)), dtype=np.int64)
    if not n_sites:
        return out[:, :0]
    n_out, failed = _components_kernel(grouped.sequence_starts, grouped.sequence_layers, grouped.sequence_tokens,
                                       columns["layer"], columns["token"], columns["a"], diagonal, limit, out)
    if failed >= 0:
        head = grouped.keyed_rows(grouped.sequence_starts[failed:failed + 1], ("seq_id",)).iloc[0]
        raise AvalancheError(f"condition ({condition_label(*head[CONDITION_KEYS].tolist())}) seq_id {head.seq_id}: "
                             f"more than {limit} connected components in one sequence "
                             f"({'8' if diagonal else '4'}-neighbour adjacency)")
    return out[:, :n_out]


def avalanche_table(grouped: SequenceSites) -> pd.DataFrame:
    """The avalanches table: one row per component, the 4-neighbour components first, then the 8-neighbour."""
    with ThreadPoolExecutor(len(ADJACENCIES)) as pool:  # the kernel releases the GIL
        found = list(pool.map(lambda diagonal: components(grouped, diagonal), ADJACENCIES.values()))
    rows = dict(zip(COMPONENT_COLUMNS, np.concatenate(found, axis=1)))
    first_site = grouped.sequence_starts[rows["sequence"]]
    adjacency = np.repeat(np.arange(len(ADJACENCIES), dtype=np.int8), [block.shape[1] for block in found])
    return pd.DataFrame({
        **grouped.keyed_columns(first_site),
        "adjacency": pd.Categorical.from_codes(adjacency, categories=list(ADJACENCIES)),
        "seq_id": grouped.columns["seq_id"][first_site].astype(np.int32),
        "component_id": rows["component_id"].astype(np.int32),
        "size": rows["size"], "n_sites": rows["n_sites"],
        "span_tokens": rows["t_max"] - rows["t_min"] + 1, "span_layers": rows["l_max"] - rows["l_min"] + 1,
        **{name: rows[name] for name in ("t_min", "t_max", "l_min", "l_max")}},
        copy=False)  # one block per column: consolidating millions of rows costs a second, for nothing


# --- crackling (S3) -------------------------------------------------------------------------------

def _fit_curves(mean_size: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise OLS of log mean S on log D over the present durations of each row ([R, D_max + 1]):
    (gamma, intercept, r2), NaN for rows with fewer than CRACKLING_MIN_POINTS durations."""
    x = np.log(np.maximum(np.arange(mean_size.shape[1], dtype=np.float64), 1.0))
    n = present.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(present, np.log(np.where(present, mean_size, 1.0)), 0.0)
        x_mean = (present * x).sum(axis=1) / n
        y_mean = y.sum(axis=1) / n
        dx = np.where(present, x - x_mean[:, None], 0.0)
        dy = np.where(present, y - y_mean[:, None], 0.0)
        gamma = (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)
        intercept = y_mean - gamma * x_mean
        residual = np.where(present, y - (intercept[:, None] + gamma[:, None] * x), 0.0)
        total = (dy * dy).sum(axis=1)
        r2 = np.where(total > 0, 1.0 - (residual * residual).sum(axis=1) / total, np.nan)
    valid = n >= CRACKLING_MIN_POINTS
    return np.where(valid, gamma, np.nan), np.where(valid, intercept, np.nan), np.where(valid, r2, np.nan)


def _mean_size_by_span(sizes: np.ndarray, spans: np.ndarray, rows: np.ndarray, n_rows: int):
    """Mean S per (row, D) for D in 0..64 and which (row, D) have an avalanche."""
    width = CRACKLING_SPAN[1] + 1
    cells = rows * width + spans
    counts = np.bincount(cells, minlength=n_rows * width).reshape(n_rows, width)
    totals = np.bincount(cells, weights=sizes.astype(np.float64), minlength=n_rows * width).reshape(n_rows, width)
    present = counts > 0
    return np.where(present, totals / np.maximum(counts, 1), 0.0), present


@numba.njit(nogil=True, cache=True)
def _resampled_span_sums(sizes, spans, pick, width):
    """Per replicate r and duration D: how many picked avalanches have D, and their summed S."""
    counts = np.zeros((pick.shape[0], width), dtype=np.int64)
    totals = np.zeros((pick.shape[0], width), dtype=np.float64)
    for r in range(pick.shape[0]):
        for j in range(pick.shape[1]):
            i = pick[r, j]
            counts[r, spans[i]] += 1
            totals[r, spans[i]] += sizes[i]
    return counts, totals


def _resampled_mean_size_by_span(sizes: np.ndarray, spans: np.ndarray, rng: np.random.Generator, reps: int):
    """_mean_size_by_span of `reps` resamples (with replacement, rng.integers(0, n, (reps, n))) without
    materialising the resampled arrays (totals are sums of integers, exact in float64, so equal to
    bincount's). The index matrix is drawn PICK_CHUNK_VALUES at a time: the same draws in the same
    order (a generator's stream does not depend on how it is split), but small blocks reuse freed memory
    where one [reps, n] matrix is fresh pages each time."""
    width = CRACKLING_SPAN[1] + 1
    counts, totals = np.empty((reps, width), dtype=np.int64), np.empty((reps, width), dtype=np.float64)
    chunk = max(1, PICK_CHUNK_VALUES // max(sizes.size, 1))
    for first in range(0, reps, chunk):
        rows = slice(first, min(first + chunk, reps))
        pick = rng.integers(0, sizes.size, size=(rows.stop - rows.start, sizes.size))
        counts[rows], totals[rows] = _resampled_span_sums(sizes, spans, pick, width)
    present = counts > 0
    return np.where(present, totals / np.maximum(counts, 1), 0.0), present


def crackling_fit(sizes: np.ndarray, spans: np.ndarray) -> tuple[float, float, float, int]:
    """(gamma, intercept, r2, n_points): OLS of log mean S per distinct D on log D (population moments)
    over the avalanches with 3 <= D <= 64 and S > 0; NaN when fewer than 8 distinct D remain."""
    sizes, spans = np.asarray(sizes, dtype=np.int64), np.asarray(spans, dtype=np.int64)
    keep = (spans >= CRACKLING_SPAN[0]) & (spans <= CRACKLING_SPAN[1]) & (sizes > 0)
    mean_size, present = _mean_size_by_span(sizes[keep], spans[keep], np.zeros(int(keep.sum()), dtype=np.int64), 1)
    gamma, intercept, r2 = _fit_curves(mean_size, present)
    return float(gamma[0]), float(intercept[0]), float(r2[0]), int(present.sum())


def crackling(sizes: np.ndarray, spans: np.ndarray, seed: int, reps: int = BOOT_REPS) -> dict:
    """gamma, its bootstrap CI (the kept avalanches resampled with replacement, reps times; failed
    refits dropped; CI = gamma when none succeeds) and pass = finite, >= 8 points, CI width <= 0.5."""
    sizes, spans = np.asarray(sizes, dtype=np.int64), np.asarray(spans, dtype=np.int64)
    keep = (spans >= CRACKLING_SPAN[0]) & (spans <= CRACKLING_SPAN[1]) & (sizes > 0)
    kept_sizes, kept_spans = sizes[keep], spans[keep]
    gamma, _, r2, n_points = crackling_fit(kept_sizes, kept_spans)
    low = high = gamma
    if np.isfinite(gamma):
        mean_size, present = _resampled_mean_size_by_span(kept_sizes, kept_spans, np.random.default_rng(seed), reps)
        replicates = _fit_curves(mean_size, present)[0]
        replicates = replicates[np.isfinite(replicates)]
        if replicates.size:
            low, high = (float(v) for v in np.quantile(replicates, CI_QUANTILES))
    passed = bool(np.isfinite([gamma, low, high]).all() and n_points >= CRACKLING_MIN_POINTS
                  and high - low <= CRACKLING_MAX_CI_WIDTH)
    return {"crackling_gamma": gamma, "crackling_ci_low": low, "crackling_ci_high": high,
            "crackling_r2": r2, "crackling_n_points": n_points, "crackling_n_avalanches_used": int(kept_sizes.size),
            "crackling_pass": passed}


# --- descriptive tail fits (T04) ------------------------------------------------------------------

def tail_fits(sizes: np.ndarray) -> dict:
    """Hill power-law MLE, exponential and (untruncated) lognormal above xmin = 80th percentile of the
    positive sizes, with their log-likelihoods and LLRs; every value NaN when the tail has < 100 sizes."""
    positive = np.asarray(sizes, dtype=np.float64)
    positive = positive[positive > 0]
    nan = float("nan")
    result = dict.fromkeys(("tail_xmin", "alpha_powerlaw", "lambda_exponential", "lognorm_mu", "lognorm_sigma",
                            "ll_powerlaw", "ll_exponential", "ll_lognormal", "llr_powerlaw_vs_lognormal",
                            "llr_powerlaw_vs_exponential"), nan)
    result["n_tail"] = 0
    if positive.size == 0:
        return result
    xmin = float(np.quantile(positive, TAIL_QUANTILE))
    tail = positive[positive >= xmin]
    result.update(tail_xmin=xmin, n_tail=int(tail.size))
    log_ratio, excess = np.log(tail / xmin).sum(), (tail - xmin).sum()
    if tail.size < TAIL_MIN_N or log_ratio <= 0 or excess <= 0:
        return result
    n, logs = tail.size, np.log(tail)
    alpha, lam = 1.0 + n / log_ratio, n / excess
    mu, sigma = float(logs.mean()), float(logs.std())
    ll_pl = n * np.log(alpha - 1) + (alpha - 1) * n * np.log(xmin) - alpha * logs.sum()
    ll_exp = n * np.log(lam) - lam * excess
    ll_ln = (-np.log(tail * sigma * np.sqrt(2 * np.pi)).sum() - ((logs - mu) ** 2).sum() / (2 * sigma ** 2)
             if sigma > 0 else nan)
    result.update(alpha_powerlaw=float(alpha), lambda_exponential=float(lam), lognorm_mu=mu, lognorm_sigma=sigma,
                  ll_powerlaw=float(ll_pl), ll_exponential=float(ll_exp), ll_lognormal=float(ll_ln),
                  llr_powerlaw_vs_lognormal=float(ll_pl - ll_ln), llr_powerlaw_vs_exponential=float(ll_pl - ll_exp))
    return result


def _condition_rows(frame: pd.DataFrame) -> dict[tuple, np.ndarray]:
    """Row positions of each condition (CONDITION_KEYS tuple) in frame order, as groupby gives them; the
    rows come in runs of one condition, so only run boundaries are compared, no row is hashed."""
    keys = {name: frame[name].cat.codes.to_numpy() if isinstance(frame[name].dtype, pd.CategoricalDtype)
            else frame[name].to_numpy() for name in CONDITION_KEYS}
    bounds = run_starts(keys, tuple(CONDITION_KEYS))
    runs: dict[tuple, list[np.ndarray]] = {}
    for start, end in zip(bounds[:-1], bounds[1:]):
        key = tuple(frame[name].iat[start] for name in CONDITION_KEYS)
        key = (str(key[0]), str(key[1]), float(key[2]), float(key[3]))
        runs.setdefault(key, []).append(np.arange(start, end))
    return {key: np.concatenate(parts) for key, parts in runs.items()}


def signature_table(avalanches: pd.DataFrame, lattices: pd.DataFrame, run_id: str,
                    reps: int = BOOT_REPS) -> pd.DataFrame:
    """int_avalanche_signatures: crackling and tail fits per condition, on the 4-neighbour avalanches."""
    four = avalanches[(avalanches.adjacency == "4N").to_numpy()]
    all_sizes, all_spans = four["size"].to_numpy(np.int64), four.span_tokens.to_numpy(np.int64)
    by_condition = _condition_rows(four)

    def signatures(key: tuple) -> dict:
        rows = by_condition.get((str(key[0]), str(key[1]), float(key[2]), float(key[3])), np.zeros(0, dtype=np.int64))
        sizes, spans = all_sizes[rows], all_spans[rows]
        seed = seed_from(SEED_BASE, run_id, condition_label(*key))
        return {**dict(zip(CONDITION_KEYS, key)), **crackling(sizes, spans, seed, reps), **tail_fits(sizes)}

    keys = lattices.sort_values(CONDITION_KEYS)[CONDITION_KEYS].itertuples(index=False, name=None)
    with ThreadPoolExecutor(2) as pool:  # each condition has its own generator; draws and kernel release the GIL
        records = list(pool.map(signatures, keys))
    return pd.DataFrame.from_records(records, columns=CONDITION_KEYS + SIGNATURE_COLUMNS)
