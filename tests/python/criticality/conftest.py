import pytest

from gatehouse.criticality import phase2


@pytest.fixture(scope="session")
def crossing_runs(tmp_path_factory):
    """One synthetic gain-grid run and its g* selection (INSTRUCT, crossing preset)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    grid = phase2.gain_grid(runs_dir, "INSTRUCT")
    gstar = phase2.select_gstar(runs_dir, "INSTRUCT")
    return runs_dir, grid, gstar
