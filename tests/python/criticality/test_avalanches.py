"""Avalanches (reference §8) and their signatures (§9): the toy raster, 4- vs 8-neighbour adjacency,
the component limit, crackling and tail fits on generators with known answers."""

import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality import avalanches
from gatehouse.criticality.raster_sites import sites_from_frame

KEYS = {"model_role": "INSTRUCT", "spike_def_id": "SPIKE_ONE_SIDED_POS", "target_rate": 1e-05, "gain": 1.0}


def grouped(cells: list[tuple[int, int, int, int]], n_layers: int, seq_len: int):
    """cells: (seq_id, layer, token, a)."""
    sites = pd.DataFrame([{**KEYS, "seq_id": s, "layer": l, "token": t, "a": a} for s, l, t, a in cells])
    lattices = pd.DataFrame([{**KEYS, "n_layers": n_layers, "seq_len": seq_len}])
    return sites_from_frame(sites, lattices)


def test_toy_raster_is_one_component_of_size_3_spanning_2_by_2():
    table = avalanches.avalanche_table(grouped([(0, 1, 1, 1), (0, 1, 2, 1), (0, 2, 2, 1)], 3, 4))
    four = table[table.adjacency == "4N"]
    assert len(four) == 1
    row = four.iloc[0]
    assert (row["size"], row.n_sites, row.span_tokens, row.span_layers) == (3, 3, 2, 2)
    assert (row.t_min, row.t_max, row.l_min, row.l_max) == (1, 2, 1, 2)


def test_eight_neighbours_merge_diagonal_cells_that_four_neighbours_keep_apart():
    table = avalanches.avalanche_table(grouped([(0, 0, 0, 2), (0, 1, 1, 5)], 2, 2))
    assert (table.adjacency == "4N").sum() == 2 and (table.adjacency == "8N").sum() == 1
    assert table[table.adjacency == "8N"]["size"].tolist() == [7]  # size = Σ A, not the site count


def test_component_ids_follow_the_row_major_scan_per_sequence():
    cells = [(0, 0, 5, 1), (0, 1, 0, 1), (0, 1, 1, 1), (0, 0, 6, 1), (1, 2, 3, 4)]
    four = avalanches.avalanche_table(grouped(cells, 3, 8)).query("adjacency == '4N'")
    assert four[["seq_id", "component_id", "t_min", "l_min", "size"]].values.tolist() == \
        [[0, 0, 5, 0, 2], [0, 1, 0, 1, 2], [1, 0, 3, 2, 4]]


def test_more_than_20000_components_in_one_sequence_is_a_named_error():
    cells = [(7, 0, 2 * t, 1) for t in range(20001)]  # isolated sites in one layer
    with pytest.raises(avalanches.AvalancheError, match=r"seq_id 7: more than 20000 connected components"):
        avalanches.components(grouped(cells, 1, 40002), diagonal=False)
    assert avalanches.components(grouped(cells[:20000], 1, 40002), diagonal=False).shape[1] == 20000


def critical_galton_watson(n: int, seed: int, max_generations: int = 5000):
    """Poisson(1) offspring from one ancestor: total sizes, durations (generations), unfinished flags."""
    rng = np.random.default_rng(seed)
    alive, size, duration = np.ones(n, dtype=np.int64), np.ones(n, dtype=np.int64), np.ones(n, dtype=np.int64)
    for _ in range(max_generations):
        active = alive > 0
        if not active.any():
            break
        alive[active] = rng.poisson(alive[active])
        size += alive
        duration += alive > 0
    return size, duration, alive > 0


def test_critical_galton_watson_sizes_have_tail_exponent_near_three_halves():
    size, _, unfinished = critical_galton_watson(100_000, seed=5)
    fits = avalanches.tail_fits(size[~unfinished])
    assert fits["alpha_powerlaw"] == pytest.approx(1.5, abs=0.05)
    assert fits["n_tail"] >= 100 and fits["llr_powerlaw_vs_exponential"] > 0


def test_tail_fit_recovers_a_continuous_pareto_exponent():
    sizes = 10.0 * (1 - np.random.default_rng(1).random(200_000)) ** (-1 / 1.5)  # alpha = 2.5 above 10
    assert avalanches.tail_fits(sizes)["alpha_powerlaw"] == pytest.approx(2.5, abs=0.02)


def test_tail_fit_needs_100_sizes():
    fits = avalanches.tail_fits(np.arange(1, 200))
    assert fits["n_tail"] < 100 and np.isnan(fits["alpha_powerlaw"])


def test_crackling_recovers_an_exact_power_law_and_its_interval_is_tight():
    spans = np.repeat(np.arange(3, 40), 20)
    result = avalanches.crackling(3 * spans ** 2, spans, seed=1)
    assert result["crackling_gamma"] == pytest.approx(2.0, abs=1e-12)
    assert result["crackling_ci_low"] == pytest.approx(2.0) and result["crackling_ci_high"] == pytest.approx(2.0)
    assert result["crackling_pass"] and result["crackling_n_points"] == 37


def test_crackling_on_critical_galton_watson_is_near_mean_field():
    """gamma = 2 in mean field; with durations 3..64 the finite-size fit lands a little below."""
    size, duration, _ = critical_galton_watson(100_000, seed=5)
    result = avalanches.crackling(size, duration, seed=2)
    assert 1.7 < result["crackling_gamma"] < 2.1
    assert result["crackling_ci_low"] < result["crackling_gamma"] < result["crackling_ci_high"]


def test_crackling_needs_eight_durations():
    spans = np.repeat(np.arange(3, 10), 5)  # 7 distinct durations
    result = avalanches.crackling(spans ** 2, spans, seed=1)
    assert np.isnan(result["crackling_gamma"]) and not result["crackling_pass"]


@pytest.mark.parametrize("chunk_values", [1 << 21, 3000 * 7, 1])
def test_bootstrap_sums_equal_those_of_the_materialised_resample(monkeypatch, chunk_values):
    """Whole matrix, blocks of 7 replicates (the last one short), one replicate at a time: the same."""
    monkeypatch.setattr(avalanches, "PICK_CHUNK_VALUES", chunk_values)
    rng = np.random.default_rng(5)
    sizes, spans = rng.integers(1, 500, 3000), rng.integers(3, 65, 3000)
    pick = np.random.default_rng(9).integers(0, sizes.size, size=(40, sizes.size))
    rows = np.repeat(np.arange(40), sizes.size)
    expected = avalanches._mean_size_by_span(sizes[pick].ravel(), spans[pick].ravel(), rows, 40)
    mean_size, present = avalanches._resampled_mean_size_by_span(sizes, spans, np.random.default_rng(9), 40)
    assert np.array_equal(mean_size, expected[0]) and np.array_equal(present, expected[1])


def test_condition_rows_in_interleaved_runs_are_those_groupby_gives():
    keys = [("INSTRUCT", "SPIKE_ONE_SIDED_POS", 1e-4, 1.0), ("BASE", "SPIKE_TWO_SIDED_ABS", 1e-3, 0.9)]
    order = [0, 0, 1, 1, 1, 0, 1, 0, 0]
    frame = pd.DataFrame([dict(zip(avalanches.CONDITION_KEYS, keys[k])) for k in order])
    for strings_as in ("object", "category"):
        typed = frame.astype({"model_role": strings_as, "spike_def_id": strings_as})
        found = avalanches._condition_rows(typed)
        expected = typed.groupby(avalanches.CONDITION_KEYS, sort=True, observed=True).indices
        assert {key: rows.tolist() for key, rows in found.items()} == \
            {key: rows.tolist() for key, rows in expected.items()}


def test_sites_out_of_order_are_sorted_before_the_kernels_read_them():
    from gatehouse.criticality.raster_sites import _is_sorted

    def columns(rows):
        return dict(zip(("condition_index", "seq_id", "layer", "token"), np.array(rows, dtype=np.int64).T))

    assert _is_sorted(columns([(0, 0, 0, 1), (0, 0, 0, 1), (0, 0, 1, 0), (1, 0, 0, 0)]))
    assert not _is_sorted(columns([(0, 0, 1, 0), (0, 0, 0, 5)]))
    assert not _is_sorted(columns([(0, 1, 0, 0), (0, 0, 9, 9)]))
