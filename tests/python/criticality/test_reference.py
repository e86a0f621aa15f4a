"""The numpy reference of the gain-grid metrics (the benchmark baseline) against known answers."""

import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality import reference, synthetic
from gatehouse.criticality.branching import branching, expected_permutation_null
from gatehouse.project import canon

ONE, TWO = synthetic.SPIKE_ONE_SIDED, synthetic.SPIKE_TWO_SIDED


def event_arrays(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """An events frame as the arrays gain_grid_metrics takes."""
    return {"gain": events.gain.to_numpy(np.float64), "seq_id": events.seq_id.to_numpy(np.int64),
            "token": events.token.to_numpy(np.int64), "layer": events.layer.to_numpy(np.int64),
            "z": events.z.to_numpy(np.float32)}


# ------------------------------------------------------------------------------ hand-made toy
# Two sequences on an L=3, T=4 lattice. Sequence 0 is the spec §6 toy raster (sites (1,1), (1,2),
# (2,2)); sequence 1 fills layer 0. Occupied sites carry one event far above every threshold
# (z = +50), and every layer gets 300 background events just above the floor (z = 5.5) that the
# rate-matched tau must cut away. One extra event z = -50 at (seq 0, l 0, t 0) spikes only for
# TWO_SIDED_ABS. n_values = 2 * 4 * 250000 = 2e6 per layer, so the targets (1e-5..8e-5) ask for
# 20..160 spikes per layer: more than the anchors, fewer than anchors + background.
TOY_L, TOY_T, TOY_N, TOY_DFF = 3, 4, 2, 250_000
TOY_SITES = {0: [(1, 1), (1, 2), (2, 2)], 1: [(0, 0), (0, 1), (0, 2), (0, 3)]}  # seq -> (layer, token)


def toy_inputs(n_above_tau0=(1000, 1000, 1000)):
    rows, summaries = [], []
    for gain in canon()["gain_grid"]:
        unit = {}

        def add(seq, layer, token, z):
            key = (seq, layer, token)
            rows.append(("INSTRUCT", gain, seq, token, layer, unit.setdefault(key, 0), z))
            unit[key] += 1

        for seq, sites in TOY_SITES.items():
            for layer, token in sites:
                add(seq, layer, token, 50.0)
        add(0, 0, 0, -50.0)
        for layer in range(TOY_L):
            for i in range(300):
                add(i % TOY_N, layer, (i // TOY_N) % TOY_T, 5.5)
        for spike_def in (ONE, TWO):
            for layer in range(TOY_L):
                summaries.append({"model_role": "INSTRUCT", "spike_def_id": spike_def, "gain": gain, "layer": layer,
                                  "n_sequences": TOY_N, "seq_len": TOY_T, "d_ff": TOY_DFF,
                                  "v_min": -6.0 if spike_def == ONE else 0.0, "v_max": 50.0, "floor": 5.0,
                                  "n_above_tau0": n_above_tau0[layer]})
    columns = ["model_role", "gain", "seq_id", "token", "layer", "unit", "z"]
    events = pd.DataFrame(rows, columns=columns)
    arrays = event_arrays(events)
    return events, arrays, pd.DataFrame(summaries)


def toy_rasters(two_sided: bool) -> np.ndarray:
    rasters = np.zeros((TOY_N, TOY_L, TOY_T), dtype=bool)
    for seq, sites in TOY_SITES.items():
        for layer, token in sites:
            rasters[seq, layer, token] = True
    rasters[0, 0, 0] = two_sided
    return rasters


@pytest.fixture(scope="module")
def toy_metrics():
    _, arrays, summaries = toy_inputs()
    return reference.gain_grid_metrics(arrays, summaries, "INSTRUCT")


def test_toy_grid_is_complete(toy_metrics):
    metrics, taus = toy_metrics
    constants = canon()
    assert len(metrics) == len(constants["gain_grid"]) * len(constants["target_rates"]) * 2
    assert not metrics.duplicated(["spike_def_id", "target_rate", "gain"]).any()
    assert len(taus) == len(metrics) * TOY_L
    assert list(metrics.columns) == reference.METRIC_COLUMNS
    assert metrics.in_canonical_grid.all() and (metrics.n_sequences == TOY_N).all()


@pytest.mark.parametrize("spike_def", [ONE, TWO])
def test_toy_branching_known_answers(toy_metrics, spike_def):
    metrics = toy_metrics[0][toy_metrics[0].spike_def_id == spike_def]
    # hand counts: one-sided 7 sites, 4 time pairs (1 + 3), 1 depth pair; two-sided adds (0, 0) in seq 0
    sites, time_pairs, depth_pairs = (7, 4, 1) if spike_def == ONE else (8, 4, 1)
    assert (metrics.n_occupied_sites == sites).all()
    assert metrics.b_time.to_numpy() == pytest.approx(time_pairs / sites)
    assert metrics.b_depth.to_numpy() == pytest.approx(depth_pairs / sites)
    assert metrics.b_tot.to_numpy() == pytest.approx((time_pairs + depth_pairs) / sites)
    # excl. boundary: sites with t < T-1 are 6 (7 for two-sided); sites with l < L-1 are 6 (7)
    valid = 6 if spike_def == ONE else 7
    assert metrics.b_time_excl_boundary.to_numpy() == pytest.approx(time_pairs / valid)
    assert metrics.b_depth_excl_boundary.to_numpy() == pytest.approx(depth_pairs / valid)
    oracle = branching(toy_rasters(spike_def == TWO))
    assert metrics.b_tot.to_numpy() == pytest.approx(oracle["b_tot"])


@pytest.mark.parametrize("spike_def", [ONE, TWO])
def test_toy_permutation_null_matches_closed_form(toy_metrics, spike_def):
    metrics = toy_metrics[0][toy_metrics[0].spike_def_id == spike_def]
    # one-sided: seq 0 has k = (0, 2, 1): time 2/4, depth 2/4; seq 1 has k = (4, 0, 0): time 12/4
    expected = {"b_time_perm": 3.5 / 7, "b_depth_perm": 0.5 / 7} if spike_def == ONE else \
        expected_permutation_null(toy_rasters(True))
    assert metrics.b_time_perm.to_numpy() == pytest.approx(expected["b_time_perm"])
    assert metrics.b_depth_perm.to_numpy() == pytest.approx(expected["b_depth_perm"])
    assert metrics.delta_b_tot.to_numpy() == pytest.approx(
        metrics.b_tot.to_numpy() - metrics.b_tot_perm.to_numpy())


def test_toy_tau_cuts_background_and_rates_are_counted(toy_metrics):
    metrics, taus = toy_metrics
    assert (taus.tau > 5.5).all() and (taus.tau < 50.0).all()
    one = taus[(taus.spike_def_id == ONE)].set_index(["target_rate", "gain", "layer"]).sort_index()
    n_values = TOY_N * TOY_T * TOY_DFF
    assert (one.n_values == n_values).all()
    spikes = {0: 4, 1: 2, 2: 1}  # one-sided anchors per layer
    for (target_rate, gain, layer), row in one.iterrows():
        assert row.achieved_rate == pytest.approx(spikes[layer] / n_values)
        assert row.target_layer_rate == pytest.approx(target_rate)  # flat TAU0 profile
    first = metrics[metrics.spike_def_id == ONE]
    assert first.achieved_rate_mean.to_numpy() == pytest.approx(7 / 3 / n_values)
    assert first.achieved_rate_max_abs_err.to_numpy() == pytest.approx(first.target_rate.to_numpy() - 1 / n_values)


def test_rate_targets_keep_the_tau0_profile_and_the_mean():
    _, _, summaries = toy_inputs(n_above_tau0=(100, 300, 800))
    ranges = reference.prepare_summaries(summaries, canon()["edge_round_abs"])
    targets = reference.rate_targets(ranges, canon()["target_rates"], canon()["gain_baseline"])
    for target_rate in canon()["target_rates"]:
        r_star = targets[("INSTRUCT", ONE, target_rate)]
        assert r_star.mean() == pytest.approx(target_rate)
        assert r_star / r_star[0] == pytest.approx([1, 3, 8])


def test_reading_parquet_filters_the_model_role(tmp_path):
    events, arrays, summaries = toy_inputs()
    other = events.assign(model_role="BASE", z=events.z * 0 + 60.0)
    path = tmp_path / "events.parquet"
    pd.concat([events, other]).to_parquet(path, index=False)
    loaded = reference.read_events(path, "INSTRUCT")
    assert len(loaded["z"]) == len(events)
    assert np.array_equal(loaded["z"], arrays["z"]) and np.array_equal(loaded["seq_id"], arrays["seq_id"])


# ------------------------------------------------------------- synthetic: per-condition known answers
SMALL = synthetic.Lattice(n_layers=6, seq_len=128, n_sequences=64, d_ff=4096)


@pytest.fixture(scope="module")
def crossing():
    events, summaries = synthetic.generate("crossing", seed=7, roles=("INSTRUCT",), lattice=SMALL)
    arrays = event_arrays(events)
    metrics, taus = reference.gain_grid_metrics(arrays, summaries, "INSTRUCT")
    return events, summaries, metrics, taus


def condition_raster(events: pd.DataFrame, taus: pd.DataFrame, spike_def: str, rate: float, gain: float):
    """X of one condition built straight from the events and the condition's tau per layer (site occupied
    when one of its units is above tau), for the independent branching oracle."""
    tau = taus[(taus.spike_def_id == spike_def) & (taus.target_rate == rate) & (taus.gain == gain)]
    tau = tau.sort_values("layer").tau.to_numpy()
    rows = events[events.gain == gain]
    values = rows.z.to_numpy(np.float64)
    values = values if spike_def == ONE else np.abs(values)
    spiking = rows[values > tau[rows.layer.to_numpy()]]
    rasters = np.zeros((SMALL.n_sequences, SMALL.n_layers, SMALL.seq_len), dtype=bool)
    rasters[spiking.seq_id, spiking.layer, spiking.token] = True
    return rasters


def test_crossing_metrics_equal_the_branching_oracle_on_each_condition_raster(crossing):
    events, _, metrics, taus = crossing
    for row in metrics.itertuples():
        rasters = condition_raster(events, taus, row.spike_def_id, row.target_rate, row.gain)
        oracle, null = branching(rasters), expected_permutation_null(rasters)
        for column in ("b_time", "b_depth", "b_tot", "b_time_excl_boundary", "b_depth_excl_boundary"):
            assert getattr(row, column) == pytest.approx(oracle[column], rel=1e-12), (row, column)
        assert row.b_tot_perm == pytest.approx(null["b_tot_perm"], rel=1e-12)
        assert row.n_occupied_sites == rasters.sum()


def test_crossing_rates_within_tolerance_and_below_target(crossing):
    _, _, metrics, taus = crossing
    assert (metrics.achieved_rate_max_abs_err <= canon()["rate_match_tol_abs"]).all()
    # tau is the smallest bin edge whose tail is at most the target: achieved <= target per layer
    assert (taus.achieved_rate <= taus.target_layer_rate * (1 + 1e-12)).all()
    assert (taus.achieved_rate > 0.5 * taus.target_layer_rate).all()
    assert np.isfinite(metrics[["b_tot", "b_tot_perm", "delta_b_tot"]].to_numpy()).all()
    assert (metrics.delta_b_tot > 0).all()


def test_crossing_b_tot_tracks_the_generator_expectation(crossing):
    _, _, metrics, _ = crossing
    for row in metrics.itertuples():
        expected = synthetic.expected_b_tot(synthetic.PRESETS["crossing"], "INSTRUCT", row.gain, row.spike_def_id,
                                            row.target_rate, SMALL)
        assert row.b_tot == pytest.approx(expected, abs=0.12), (row.spike_def_id, row.target_rate, row.gain)


# ------------------------------------------------------- the vectorised variant gives the same numbers
def _assert_same(computed, expected):
    for frame, oracle in zip(computed, expected):
        pd.testing.assert_frame_equal(frame, oracle, check_exact=True)


def test_vectorised_equals_per_sequence_on_the_toy(toy_metrics):
    _, arrays, summaries = toy_inputs()
    _assert_same(reference.gain_grid_metrics_vectorised(arrays, summaries, "INSTRUCT"), toy_metrics)


def test_vectorised_equals_per_sequence_on_synthetic_events(crossing):
    events, summaries, metrics, taus = crossing
    shuffled = events.sample(frac=1.0, random_state=3)  # no reliance on the stored order
    arrays = {"gain": shuffled.gain.to_numpy(np.float64), "seq_id": shuffled.seq_id.to_numpy(np.int32),
              "token": shuffled.token.to_numpy(np.int32), "layer": shuffled.layer.to_numpy(np.int32),
              "z": shuffled.z.to_numpy(np.float32)}
    _assert_same(reference.gain_grid_metrics_vectorised(arrays, summaries, "INSTRUCT"), (metrics, taus))


def test_vectorised_cli_writes_what_the_per_sequence_cli_writes(tmp_path):
    events, _, summaries = toy_inputs()
    events.to_parquet(tmp_path / "events.parquet", index=False)
    summaries.to_parquet(tmp_path / "summaries.parquet", index=False)
    for flag in ([], ["--vectorised"]):
        name = "vectorised" if flag else "per_sequence"
        assert reference.main(["--events", str(tmp_path / "events.parquet"), "--summaries",
                               str(tmp_path / "summaries.parquet"), "--out", str(tmp_path / f"{name}.parquet"),
                               "--tau-out", str(tmp_path / f"{name}_tau.parquet"), *flag]) == 0
    for suffix in (".parquet", "_tau.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / f"vectorised{suffix}"),
                                      pd.read_parquet(tmp_path / f"per_sequence{suffix}"), check_exact=True)
