"""The two streaming passes over the exceedance events, per model role.

Pass 1, `tail_histograms`: every row is checked (finite z, gain in the grid, layer/token/seq_id/unit
in the lattice the summaries declare, no duplicate event) while the spec §4 histogram bins above the floor are counted.
Pass 2, `raster_layer_counts`: spikes v > tau_l(g) per site, folded per (condition, sequence,
layer) into the counts the branching ratios and the permutation null are pooled from.

The events are read in Arrow batches (`event_readers`) and handed to the compiled kernels of
`event_kernels`. Events stored in the documented order (gain, seq_id, layer, token, unit) are read
once per pass; other orders cost a grouped duplicate check (pass 1) and a DuckDB sort (pass 2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gatehouse.criticality import event_kernels as kernels
from gatehouse.criticality.event_readers import EventsError, fan_out, sql_string
from gatehouse.project import canon

# Kernel threads per pass, fixed so the output does not depend on the machine. Pass 1 keeps up with
# the reader on one thread; pass 2 does more work per event and splits the sequences over two.
HISTOGRAM_WORKERS, RASTER_WORKERS = 1, 2
SPIKE_TRANSFORMS = {"SPIKE_ONE_SIDED_POS": 0, "SPIKE_TWO_SIDED_ABS": 1}
PASS1_COLUMNS = ("gain", "seq_id", "layer", "token", "unit", "z")
PASS2_COLUMNS = ("gain", "seq_id", "layer", "token", "z")
# event column -> the RoleLayout size it must stay below
LATTICE_BOUNDS = {"layer": "n_layers", "token": "seq_len", "seq_id": "n_sequences", "unit": "d_ff"}


def _transforms(spike_def_ids) -> np.ndarray:
    unknown = [name for name in spike_def_ids if name not in SPIKE_TRANSFORMS]
    if unknown:
        raise EventsError(f"column spike_def_id: no value transform for {unknown}")
    return np.array([SPIKE_TRANSFORMS[name] for name in spike_def_ids], dtype=np.int64)


@dataclass(frozen=True)
class RoleLayout:
    """One model role's histogram layout: spike definitions x gains x layers, and its lattice."""
    role: str
    spike_defs: tuple[str, ...]
    gains: np.ndarray
    n_layers: int
    seq_len: int
    n_sequences: int
    d_ff: int
    lo: np.ndarray      # [D, G, L] v_min_r
    hi: np.ndarray      # [D, G, L] v_max_r
    floor: np.ndarray   # [D, G, L] value_floor
    v_min: np.ndarray   # [D, G, L] the summaries' v_min, v_max and n_above_tau0, which the events must agree with
    v_max: np.ndarray
    n_above_tau0: np.ndarray
    source: str = "the summaries"  # where the lattice comes from, for error messages

    @classmethod
    def from_ranges(cls, role: str, ranges: pd.DataFrame, source: str = "the summaries") -> "RoleLayout":
        """From int_value_ranges rows of one role (complete: validated summaries)."""
        spike_defs = tuple(sorted(ranges.spike_def_id.unique()))
        gains = np.array(sorted(ranges.gain.unique()), dtype=np.float64)
        n_layers = int(ranges.layer.max()) + 1
        shape = (len(spike_defs), gains.size, n_layers)
        arrays = {name: np.full(shape, np.nan) for name in ("v_min_r", "v_max_r", "value_floor", "v_min", "v_max")}
        d = ranges.spike_def_id.map({name: i for i, name in enumerate(spike_defs)}).to_numpy()
        g = np.searchsorted(gains, ranges.gain.to_numpy())
        l = ranges.layer.to_numpy()
        for name, array in arrays.items():
            array[d, g, l] = ranges[name].to_numpy(np.float64)
        n_above_tau0 = np.full(shape, np.iinfo(np.int64).max, dtype=np.int64)
        n_above_tau0[d, g, l] = ranges.n_above_tau0.to_numpy(np.int64)
        return cls(role, spike_defs, gains, n_layers, int(ranges.seq_len.max()), int(ranges.n_sequences.max()),
                   int(ranges.d_ff.max()), arrays["v_min_r"], arrays["v_max_r"], arrays["value_floor"],
                   arrays["v_min"], arrays["v_max"], n_above_tau0, source)

    @classmethod
    def for_checks(cls, role: str, gains, lattice: dict, source: str = "the summaries") -> "RoleLayout":
        """A layout that only checks rows: no value is above an infinite floor, so nothing is binned, and
        no value range or count is known. lattice: n_layers, seq_len, n_sequences, d_ff."""
        shape = (1, len(gains), lattice["n_layers"])
        return cls(role, ("SPIKE_ONE_SIDED_POS",), np.array(sorted(gains), dtype=np.float64), lattice["n_layers"],
                   lattice["seq_len"], lattice["n_sequences"], lattice["d_ff"], np.zeros(shape), np.ones(shape),
                   np.full(shape, np.inf), np.full(shape, -np.inf), np.full(shape, np.inf),
                   np.full(shape, np.iinfo(np.int64).max), source)


@dataclass
class ScanReport:
    """What pass 1 found wrong, by kernels.ISSUES, and its kernels.TALLIES [D, G, L, 3]."""
    issues: np.ndarray
    bad_gain: float
    events_per_gain: np.ndarray
    tallies: np.ndarray

    def problems(self, layout: RoleLayout, duplicate_check) -> None:
        """Raise EventsError for the first problem, in the order the loader documents."""
        count = dict(zip(kernels.ISSUES, self.issues.tolist()))
        if count["gain"]:
            raise EventsError(f"column gain: gain(s) [{self.bad_gain}] not in {layout.gains.tolist()}")
        if count["non_finite_z"]:
            raise EventsError(f"column z: {count['non_finite_z']} non-finite value(s) (NaN/inf)")
        for column, size in LATTICE_BOUNDS.items():
            if count[column]:
                bound = getattr(layout, size)
                raise EventsError(f"column {column}: {count[column]} value(s) outside the lattice of model_role "
                                  f"{layout.role}: not in 0..{bound - 1} ({size} = {bound} in {layout.source})")
        if count["duplicate"] or count["order"]:
            duplicate_check()
        self._summaries_agree(layout)
        for gain, n_events in zip(layout.gains.tolist(), self.events_per_gain.tolist()):
            if n_events == 0:
                raise EventsError(f"column gain: condition (model_role={layout.role}, g={gain}) has no events: "
                                  "an empty condition")

    def _summaries_agree(self, layout: RoleLayout) -> None:
        """EventsError unless the events agree with their summary rows: every value above the floor (each one
        binned) in [v_min, v_max], and as many values above TAU0_BASELINE as n_above_tau0 says (at most as many
        when the floor is at or above TAU0_BASELINE, so that not every such value is an event row). The
        histogram clamps to the one and the target rates come from the other: a contradiction would change the
        results silently."""
        tau0 = float(canon()["tau0_baseline"])
        above_tau0 = self.tallies[..., kernels.ABOVE_TAU0]
        every_value_stored = layout.floor < tau0
        problems = [
            (self.tallies[..., kernels.BELOW_V_MIN], "value(s) above the floor but below v_min", layout.v_min),
            (self.tallies[..., kernels.ABOVE_V_MAX], "value(s) above v_max", layout.v_max),
            (above_tau0 - layout.n_above_tau0, f"more value(s) above TAU0_BASELINE = {tau0} than n_above_tau0",
             layout.n_above_tau0),
            (np.where(every_value_stored, layout.n_above_tau0 - above_tau0, 0),
             f"fewer value(s) above TAU0_BASELINE = {tau0} than n_above_tau0 (the floor is below TAU0_BASELINE, "
             "so each of them must be an event row)", layout.n_above_tau0)]
        for excess, problem, stated in problems:
            if (excess > 0).any():
                d, g, l = (int(index[0]) for index in np.nonzero(excess > 0))
                raise EventsError(
                    f"column z: {int(excess[d, g, l])} {problem} = {stated[d, g, l].item()!r} of the summary row "
                    f"(model_role={layout.role}, spike_def_id={layout.spike_defs[d]}, g={layout.gains[g]}, "
                    f"layer={l}) in {layout.source}; {int((excess > 0).sum())} summary row(s) disagree in all")


class _HistogramWorker:
    """Pass 1 state of one worker (the sequences it owns)."""

    def __init__(self, worker: int, layout: RoleLayout, bins: int):
        self.worker, self.layout, self.bins = worker, layout, bins
        self.transforms = _transforms(layout.spike_defs)
        self.hist = np.zeros(layout.lo.shape + (bins,), dtype=np.int64)
        self.tallies = np.zeros(layout.lo.shape + (len(kernels.TALLIES),), dtype=np.int64)
        self.tau0 = float(canon()["tau0_baseline"])
        self.events_per_gain = np.zeros(layout.gains.size, dtype=np.int64)
        self.issues = np.zeros(len(kernels.ISSUES), dtype=np.int64)
        self.bad_gain, self.previous = np.zeros(1), np.full(5, -1, dtype=np.int64)

    def __call__(self, arrays) -> None:
        gain, seq, layer, token, unit, z = arrays
        layout = self.layout
        kernels.histogram_batch(gain, seq, layer, token, unit, z, HISTOGRAM_WORKERS, self.worker, layout.gains,
                                layout.n_layers, layout.seq_len, layout.n_sequences, layout.d_ff, self.transforms,
                                layout.lo, layout.hi, layout.floor, layout.v_min, layout.v_max, self.tau0, self.bins,
                                self.hist, self.tallies, self.events_per_gain, self.issues, self.bad_gain,
                                self.previous)


def scan_role(events, layout: RoleLayout, bins: int) -> tuple[np.ndarray, ScanReport]:
    """Pass 1 for one role: histogram [D, G, L, bins] and the scan report. A reader with its own
    `scan_role` (gatehouse.spark: partitions, each through scan_batches) runs the pass itself."""
    if hasattr(events, "scan_role"):
        return events.scan_role(layout, bins)
    return scan_batches(events.batches(layout.role, PASS1_COLUMNS), layout, bins)


def scan_batches(batches, layout: RoleLayout, bins: int) -> tuple[np.ndarray, ScanReport]:
    """Pass 1 over `batches` (lists of the PASS1_COLUMNS arrays of one role)."""
    workers = [_HistogramWorker(worker, layout, bins) for worker in range(HISTOGRAM_WORKERS)]
    fan_out(batches, workers)
    bad_gains = [float(worker.bad_gain[0]) for worker in workers if worker.issues[kernels.BAD_GAIN]]
    return (sum(worker.hist for worker in workers),
            ScanReport(sum(worker.issues for worker in workers), bad_gains[0] if bad_gains else 0.0,
                       sum(worker.events_per_gain for worker in workers), sum(worker.tallies for worker in workers)))


def duplicate_event_check(relation, role: str) -> None:
    """The grouped check for events not stored in order (a DuckDB aggregation over the role)."""
    duplicates = (relation.filter(f"model_role = {sql_string(role)}")
                  .aggregate("model_role, gain, seq_id, token, layer, unit, count(*) as n")
                  .filter("n > 1").order("model_role, gain, seq_id, token, layer, unit").limit(1).fetchall())
    if duplicates:
        raise duplicate_event_error(duplicates[0])


def duplicate_event_error(row) -> EventsError:
    """row: the key (model_role, gain, seq_id, token, layer, unit) of a duplicated event and its count."""
    return EventsError(f"columns model_role/gain/seq_id/token/layer/unit: duplicate event {tuple(row[:6])} "
                       f"appears {row[6]} times")


def validate_role(events, layout: RoleLayout, bins: int = 1) -> np.ndarray:
    """Pass 1 with its checks enforced; returns the histogram."""
    hist, report = scan_role(events, layout, bins)
    check = getattr(events, "duplicate_event_check", None) or (lambda role: duplicate_event_check(events.relation, role))
    report.problems(layout, lambda: check(layout.role))
    return hist


def tail_histograms(events, ranges: pd.DataFrame, bins: int, source: str = "the summaries") -> pd.DataFrame:
    """int_tail_histograms: (model_role, spike_def_id, gain, layer, bin_index, n_values_in_bin) for
    the non-empty bins above the floor, after every check of pass 1 passed; `source` names the ranges."""
    frames = []
    for role, role_ranges in ranges.groupby("model_role", sort=True):
        layout = RoleLayout.from_ranges(role, role_ranges, source)
        hist = validate_role(events, layout, bins)
        d, g, l, b = np.nonzero(hist)
        frames.append(pd.DataFrame({
            "model_role": canon_categorical([role], np.zeros(d.size, dtype=np.int64), "model_roles"),
            "spike_def_id": canon_categorical(list(layout.spike_defs), d, "spike_defs"),
            "gain": layout.gains[g], "layer": l.astype(np.int32), "bin_index": b.astype(np.int32),
            "n_values_in_bin": hist[d, g, l, b]}))
    columns = ["model_role", "spike_def_id", "gain", "layer", "bin_index", "n_values_in_bin"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class RasterPlan:
    """One role's rate-matched thresholds: conditions (spike_def_id, target_rate) x gains x layers."""
    role: str
    conditions: list[tuple[str, float]]
    gains: np.ndarray
    tau: np.ndarray     # [G, L, C]
    seq_len: int
    n_sequences: int

    @classmethod
    def from_taus(cls, role: str, taus: pd.DataFrame, seq_len: int, n_sequences: int) -> "RasterPlan":
        conditions = sorted(set(zip(taus.spike_def_id, taus.target_rate.astype(float))))
        gains = np.array(sorted(taus.gain.unique()), dtype=np.float64)
        position = {condition: c for c, condition in enumerate(conditions)}
        c = np.array([position[key] for key in zip(taus.spike_def_id, taus.target_rate.astype(float))], dtype=np.int64)
        tau = np.full((gains.size, int(taus.layer.max()) + 1, len(conditions)), np.inf)
        tau[np.searchsorted(gains, taus.gain.to_numpy()), taus.layer.to_numpy(), c] = taus.tau.to_numpy(np.float64)
        return cls(role, conditions, gains, tau, seq_len, n_sequences)


class _RasterWorker:
    """Pass 2 state of one worker: the buffers of its current sequence and its output rows."""

    def __init__(self, worker: int, plan: RasterPlan):
        self.worker, self.plan = worker, plan
        n_layers, n_conditions = plan.tau.shape[1], plan.tau.shape[2]
        self.transforms = _transforms([spike_def for spike_def, _ in plan.conditions])
        self.lowest_tau = plan.tau.min(axis=2)
        self.counts = np.zeros((n_layers, plan.seq_len, n_conditions), dtype=np.int64)
        self.site_seen = np.zeros(n_layers * plan.seq_len, dtype=np.bool_)
        self.touched = np.zeros(n_layers * plan.seq_len, dtype=np.int64)
        self.stats = np.zeros((n_conditions, n_layers, 5), dtype=np.int64)
        self.state = np.array([-1, -1, 0, 0], dtype=np.int64)
        self.room = n_conditions * n_layers  # rows one sequence can add
        owned = plan.gains.size * plan.n_sequences // RASTER_WORKERS + 1  # sequences, when seq_id < N
        self.out = np.zeros((len(kernels.LAYER_COLUMNS), owned * self.room + self.room), dtype=np.int64)
        self.grouped = True

    def __call__(self, arrays) -> None:
        gain, seq, layer, token, z = arrays
        start = 0
        while self.grouped:
            status, start = kernels.raster_layer_batch(
                gain, seq, layer, token, z, start, RASTER_WORKERS, self.worker, self.plan.gains, self.transforms,
                self.plan.tau, self.lowest_tau, self.counts, self.site_seen, self.touched, self.stats, self.state,
                self.out)
            if status == kernels.OUTPUT_FULL:
                self.out = np.concatenate([self.out, np.zeros_like(self.out)], axis=1)
            elif status == kernels.SEQUENCES_NOT_GROUPED:
                self.grouped = False
            elif status == kernels.ROW_OUTSIDE_LATTICE:
                raise EventsError(f"row outside the lattice of model_role {self.plan.role} (run pass 1 first)")
            else:
                return

    def rows(self) -> np.ndarray:
        """[LAYER_COLUMNS, rows] of the worker's sequences."""
        if self.out.shape[1] - self.state[3] < self.room:
            self.out = np.concatenate([self.out, np.zeros((self.out.shape[0], self.room), dtype=np.int64)], axis=1)
        return self.out[:, : kernels.finish_rasters(self.counts, self.site_seen, self.touched, self.stats,
                                                    self.state, self.out)]


def _raster_pass(events, plan: RasterPlan, order: str | None) -> np.ndarray | None:
    """[kernels.LAYER_COLUMNS, rows], or None when the sequences are not grouped in this order."""
    return raster_batches(events.batches(plan.role, PASS2_COLUMNS, order), plan)


def raster_batches(batches, plan: RasterPlan) -> np.ndarray | None:
    """Pass 2 over `batches` (lists of the PASS2_COLUMNS arrays of one role): [kernels.LAYER_COLUMNS, rows],
    or None when the sequences are not grouped."""
    workers = [_RasterWorker(worker, plan) for worker in range(RASTER_WORKERS)]
    fan_out(batches, workers)
    if not all(worker.grouped for worker in workers):
        return None
    return np.concatenate([worker.rows() for worker in workers], axis=1)


def raster_layer_counts(events, taus: pd.DataFrame, lattices: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """int_raster_layer_counts rows for the rate-matched rasters of every role in `taus`;
    lattices: role -> (seq_len, n_sequences)."""
    frames = []
    for role, role_taus in taus.groupby("model_role", sort=True):
        plan = RasterPlan.from_taus(role, role_taus, *lattices[role])
        if hasattr(events, "raster_rows"):  # a reader that runs the pass itself (gatehouse.spark)
            frames.append(layer_frame(events.raster_rows(plan), role, plan.conditions, plan.gains))
            continue
        rows = _raster_pass(events, plan, None)
        if rows is None:  # not stored by sequence: let DuckDB sort
            rows = _raster_pass(events, plan, "gain, seq_id")
        frames.append(layer_frame(rows, role, plan.conditions, plan.gains))
    return pd.concat(frames, ignore_index=True) if frames else None


def canon_categorical(values: list[str], codes: np.ndarray, kind: str) -> pd.Categorical:
    """values[codes] as a categorical over every CANON value of `kind` ("model_roles", "spike_defs").
    Categoricals are cheap to build for millions of rows; DuckDB stores them as an ENUM that every
    valid key fits (the rows of a dbt unit test, say)."""
    categories = list(canon()[kind]) + [value for value in values if value not in canon()[kind]]
    positions = np.array([categories.index(value) for value in values], dtype=np.int8)
    return pd.Categorical.from_codes(positions[codes], categories)


def layer_frame(rows: np.ndarray, role: str, conditions: list[tuple[str, float]], gains: np.ndarray) -> pd.DataFrame:
    """The kernel's [LAYER_COLUMNS, rows] with their condition keys."""
    columns = dict(zip(kernels.LAYER_COLUMNS, rows))
    condition, gain_index = columns.pop("condition"), columns.pop("gain_index")
    frame = pd.DataFrame({
        "model_role": canon_categorical([role], np.zeros(condition.size, dtype=np.int64), "model_roles"),
        "spike_def_id": canon_categorical([spike_def for spike_def, _ in conditions], condition, "spike_defs"),
        "target_rate": np.array([rate for _, rate in conditions], dtype=np.float64)[condition],
        "gain": gains[gain_index],
        "seq_id": columns.pop("seq_id").astype(np.int32),
        "layer": columns.pop("layer").astype(np.int32),
        **columns})
    return frame
