import hashlib

import numpy as np
import pandas as pd
import pytest

from gatehouse.criticality import reference, synthetic
from gatehouse.project import canon

from .test_reference import event_arrays

ONE, TWO = synthetic.SPIKE_ONE_SIDED, synthetic.SPIKE_TWO_SIDED
SMALL = synthetic.Lattice(n_layers=6, seq_len=32, n_sequences=4, d_ff=1024)
GAINS = sorted(canon()["gain_grid"])
STEP = float(np.diff(GAINS).max())
CONDITIONS = [(spike_def, rate) for spike_def in (ONE, TWO) for rate in canon()["target_rates"]]


def generated_metrics(preset: str, role: str, lattice: synthetic.Lattice, seed: int = 5) -> pd.DataFrame:
    """Gain-grid metrics of generated data through the numpy reference (rate matching included)."""
    events, summaries = synthetic.generate(preset, seed=seed, roles=(role,), lattice=lattice)
    return reference.gain_grid_metrics(event_arrays(events), summaries, role)[0]


def interpolated_crossing(curve: pd.DataFrame) -> float | None:
    """Where b_tot(g) first crosses 1, linear between adjacent grid gains."""
    gains, values = curve.gain.to_numpy(), curve.b_tot.to_numpy()
    for i in range(len(gains) - 1):
        if (values[i] - 1) * (values[i + 1] - 1) <= 0 and values[i] != values[i + 1]:
            return gains[i] + (1 - values[i]) * (gains[i + 1] - gains[i]) / (values[i + 1] - values[i])
    return None


# ------------------------------------------------------------------------------- closed forms
def test_neighbour_share_matches_the_bivariate_normal_and_its_limits():
    from scipy.stats import multivariate_normal, norm

    for rho, share in ((0.3, 0.02), (0.8, 0.16)):
        u = norm.isf(share)
        joint = multivariate_normal(mean=[0, 0], cov=[[1, rho], [rho, 1]]).cdf([-u, -u])
        assert synthetic.neighbour_share(share, rho) == pytest.approx(joint / share, rel=1e-6)
    assert synthetic.neighbour_share(0.05, 1e-9) == pytest.approx(0.05, rel=1e-6)  # independent sites


@pytest.mark.parametrize("role", ["INSTRUCT", "BASE"])
def test_crossing_preset_reference_level_set_is_one_at_the_known_gain(role):
    preset = synthetic.PRESETS["crossing"]
    crossing = preset.crossing_gain[role]
    assert crossing in GAINS
    assert synthetic.reference_b_tot(preset, role, crossing) == pytest.approx(1.0, abs=1e-12)
    others = [abs(synthetic.reference_b_tot(preset, role, g) - 1) for g in GAINS if g != crossing]
    assert min(others) > 0.05


@pytest.mark.parametrize("role", ["INSTRUCT", "BASE"])
def test_every_condition_crosses_within_one_grid_step_of_the_known_gain(role):
    preset = synthetic.PRESETS["crossing"]
    for spike_def, rate in CONDITIONS:
        crossing = synthetic.expected_crossing_gain(preset, role, spike_def, rate)
        assert crossing is not None and abs(crossing - preset.crossing_gain[role]) <= 0.05, (spike_def, rate)
        assert synthetic.expected_b_tot(preset, role, crossing, spike_def, rate) == pytest.approx(1.0, abs=1e-9)


def test_flat_preset_never_reaches_one_and_barely_moves_with_gain():
    preset = synthetic.PRESETS["flat"]
    for spike_def, rate in CONDITIONS:
        values = [synthetic.expected_b_tot(preset, "INSTRUCT", g, spike_def, rate) for g in GAINS]
        assert max(values) < 0.95 and max(values) - min(values) < 0.05
        assert synthetic.expected_crossing_gain(preset, "INSTRUCT", spike_def, rate) is None


@pytest.mark.parametrize("preset_name", ["crossing", "flat"])
def test_expected_b_tot_rises_with_target_rate_and_is_higher_two_sided(preset_name):
    """The published direction: at every gain b_tot grows with the target rate, and the two-sided
    definition lies above the one-sided one (published at 1e-5: 0.627 against 0.593 at g = 1)."""
    preset = synthetic.PRESETS[preset_name]
    for gain in GAINS:
        for spike_def in (ONE, TWO):
            values = [synthetic.expected_b_tot(preset, "INSTRUCT", gain, spike_def, r) for r in canon()["target_rates"]]
            assert np.all(np.diff(values) > 0), (gain, spike_def)
        for rate in canon()["target_rates"]:
            gap = (synthetic.expected_b_tot(preset, "INSTRUCT", gain, TWO, rate)
                   - synthetic.expected_b_tot(preset, "INSTRUCT", gain, ONE, rate))
            assert gap > 0, (gain, rate)


def test_latent_field_has_unit_variance_and_the_neighbour_correlation():
    innovations = np.random.default_rng(3).standard_normal((200, 8, 128))
    for rho in (0.3, 0.8):
        field = synthetic.latent_field(innovations, rho)
        assert field.mean() == pytest.approx(0, abs=0.03) and field.var() == pytest.approx(1, abs=0.05)
        along_tokens = np.corrcoef(field[:, :, :-1].ravel(), field[:, :, 1:].ravel())[0, 1]
        across_layers = np.corrcoef(field[:, :-1, :].ravel(), field[:, 1:, :].ravel())[0, 1]
        assert along_tokens == pytest.approx(rho, abs=0.02) and across_layers == pytest.approx(rho, abs=0.02)


# ---------------------------------------------------------------------------- generated data
@pytest.fixture(scope="module")
def crossing_metrics():
    return generated_metrics("crossing", "INSTRUCT", synthetic.Lattice(n_sequences=16))


def test_generated_b_tot_tracks_the_expectation(crossing_metrics):
    preset = synthetic.PRESETS["crossing"]
    lattice = synthetic.Lattice(n_sequences=16)
    for row in crossing_metrics.itertuples():
        expected = synthetic.expected_b_tot(preset, "INSTRUCT", row.gain, row.spike_def_id, row.target_rate, lattice)
        assert row.b_tot == pytest.approx(expected, abs=0.08), (row.spike_def_id, row.target_rate, row.gain)


def test_generated_b_tot_rises_with_target_rate_at_every_gain(crossing_metrics):
    for (spike_def, gain), rows in crossing_metrics.groupby(["spike_def_id", "gain"]):
        values = rows.sort_values("target_rate").b_tot.to_numpy()
        assert np.all(np.diff(values) > 0), (spike_def, gain)


def test_generated_two_sided_b_tot_lies_above_one_sided_at_low_rates(crossing_metrics):
    """The published sign (two-sided above one-sided at 1e-5 and 2e-5), where the gap is clear (g >= 0.9)."""
    wide = crossing_metrics.pivot_table(index=["target_rate", "gain"], columns="spike_def_id", values="b_tot")
    low = wide[(wide.index.get_level_values("target_rate") <= 2e-5) & (wide.index.get_level_values("gain") >= 0.9)]
    assert ((low[TWO] - low[ONE]) > 0).all()


def test_generated_crossing_preset_crosses_within_one_grid_step(crossing_metrics):
    known = synthetic.PRESETS["crossing"].crossing_gain["INSTRUCT"]
    for key, curve in crossing_metrics.groupby(["spike_def_id", "target_rate"]):
        crossing = interpolated_crossing(curve.sort_values("gain"))
        assert crossing is not None and abs(crossing - known) <= STEP, key


def test_same_seed_gives_byte_identical_files(tmp_path):
    def written(seed: int, name: str) -> list[str]:
        events, summaries = synthetic.generate("crossing", seed=seed, roles=("INSTRUCT",), lattice=SMALL)
        paths = [tmp_path / f"{name}-events.parquet", tmp_path / f"{name}-summaries.parquet"]
        events.to_parquet(paths[0], index=False)
        summaries.to_parquet(paths[1], index=False)
        return [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]

    assert written(11, "first") == written(11, "again")
    assert written(12, "other")[0] != written(11, "first")[0]


def test_events_are_unique_and_above_the_floor():
    events, summaries = synthetic.generate("crossing", seed=3, roles=("BASE",), lattice=SMALL)
    key = ["model_role", "gain", "seq_id", "token", "layer", "unit"]
    assert not events.duplicated(key).any()
    two_sided = summaries[summaries.spike_def_id == TWO][["gain", "layer", "floor", "v_max"]]
    merged = events.merge(two_sided, on=["gain", "layer"])
    assert (merged.z.abs() > merged["floor"] * (1 - 1e-6)).all()
    assert (merged.z.abs() <= merged.v_max * (1 + 1e-6)).all()


def test_a_lattice_the_stored_sites_cannot_serve_is_refused():
    with pytest.raises(ValueError, match="d_ff=32768"):
        synthetic.generate("crossing", lattice=synthetic.Lattice(n_layers=2, seq_len=8, n_sequences=1, d_ff=32768))


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown synthetic preset 'steep'"):
        synthetic.generate("steep")


def test_events_come_in_the_order_of_a_multi_column_sort():
    """The per-(role, gain) lexsort gives the rows, index and dtypes of pandas' stable sort on the six
    key columns, also for two roles and a gain listed twice."""
    tiny = synthetic.Lattice(n_layers=3, seq_len=8, n_sequences=2, d_ff=256)
    events, _ = synthetic.generate("crossing", seed=4, roles=("INSTRUCT", "BASE"), lattice=tiny,
                                   gains=[1.0, 0.5, 1.0])
    oracle = events.sample(frac=1.0, random_state=0).sort_values(
        ["model_role", "gain", "seq_id", "layer", "token", "unit"], kind="stable", ignore_index=True)
    assert list(events.model_role.unique()) == ["BASE", "INSTRUCT"]  # sorted, not in the order given
    pd.testing.assert_frame_equal(events, oracle)
