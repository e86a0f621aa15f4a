import numpy as np
import pytest

from gatehouse.criticality import synthetic
from gatehouse.criticality.branching import branching
from gatehouse.project import canon

SMALL = synthetic.Lattice(n_layers=6, seq_len=32, n_sequences=4, d_ff=1024)


@pytest.mark.parametrize("role", ["INSTRUCT", "BASE"])
def test_crossing_preset_puts_expected_b_tot_at_one_on_the_known_gain(role):
    preset = synthetic.PRESETS["crossing"]
    crossing = preset.crossing_gain[role]
    assert crossing in canon()["gain_grid"]
    assert synthetic.expected_b_tot(preset, role, crossing) == pytest.approx(1.0, abs=1e-12)
    others = [abs(synthetic.expected_b_tot(preset, role, g) - 1) for g in canon()["gain_grid"] if g != crossing]
    assert min(others) > 0.05


def test_flat_preset_never_reaches_one():
    preset = synthetic.PRESETS["flat"]
    values = [synthetic.expected_b_tot(preset, "INSTRUCT", g) for g in canon()["gain_grid"]]
    assert max(values) < 0.6 and max(values) - min(values) < 0.05


def test_latent_lattice_reproduces_the_expected_branching():
    preset, lattice = synthetic.PRESETS["crossing"], synthetic.Lattice()
    rng = np.random.default_rng(5)
    uniforms = rng.random((64, lattice.n_layers, lattice.seq_len))
    copy_draws = rng.random((64, lattice.n_layers))
    for gain in (0.9, 1.05, 1.2):
        a, c = synthetic.coupling(preset, "INSTRUCT", gain, lattice)
        occupied = synthetic.latent_occupancy(uniforms, copy_draws < c, a, preset.occupancy)
        expected = synthetic.expected_b_tot(preset, "INSTRUCT", gain)
        assert branching(occupied)["b_tot"] == pytest.approx(expected, abs=0.06)


def test_generator_is_deterministic_and_seeded():
    first = synthetic.generate("crossing", seed=11, roles=("INSTRUCT",), lattice=SMALL)
    again = synthetic.generate("crossing", seed=11, roles=("INSTRUCT",), lattice=SMALL)
    other = synthetic.generate("crossing", seed=12, roles=("INSTRUCT",), lattice=SMALL)
    assert first[0].equals(again[0]) and first[1].equals(again[1])
    assert not first[0].equals(other[0])


def test_events_are_unique_and_above_the_floor():
    events, summaries = synthetic.generate("crossing", seed=3, roles=("BASE",), lattice=SMALL)
    key = ["model_role", "gain", "seq_id", "token", "layer", "unit"]
    assert not events.duplicated(key).any()
    two_sided = summaries[summaries.spike_def_id == synthetic.SPIKE_TWO_SIDED][["gain", "layer", "floor", "v_max"]]
    merged = events.merge(two_sided, on=["gain", "layer"])
    assert (merged.z.abs() > merged["floor"] * (1 - 1e-6)).all()
    assert (merged.z.abs() <= merged.v_max * (1 + 1e-6)).all()


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown synthetic preset 'steep'"):
        synthetic.generate("steep")
