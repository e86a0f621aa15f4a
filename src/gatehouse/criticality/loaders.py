"""Validated loading of user-supplied spike inputs. Every error names the file, column and problem."""

from __future__ import annotations

import os
import zipfile
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from gatehouse.project import canon
from gatehouse.runs.errors import missing_file

EVENT_COLUMNS = {"model_role": "VARCHAR", "gain": "DOUBLE", "seq_id": "INTEGER", "token": "INTEGER",
                 "layer": "INTEGER", "unit": "INTEGER", "z": "FLOAT"}
SUMMARY_COLUMNS = {"model_role": "VARCHAR", "spike_def_id": "VARCHAR", "gain": "DOUBLE", "layer": "INTEGER",
                   "n_sequences": "INTEGER", "seq_len": "INTEGER", "d_ff": "INTEGER", "v_min": "DOUBLE",
                   "v_max": "DOUBLE", "floor": "DOUBLE", "n_above_tau0": "BIGINT"}
CONDITION_COLUMNS = {"cond_id": "INTEGER", "model_role": "VARCHAR", "spike_def_id": "VARCHAR",
                     "target_rate": "DOUBLE", "gain": "DOUBLE"}
METRICS_COLUMNS = {"spike_def_id": "VARCHAR", "target_rate": "DOUBLE", "gain": "DOUBLE", "b_tot": "DOUBLE"}


class InputError(ValueError):
    """Bad input: the message names the file, the column and the problem."""


def _connect() -> duckdb.DuckDBPyConnection:
    """A scratch connection under the same memory limit as the build (profiles.yml), not DuckDB's 80 % of RAM."""
    return duckdb.connect(config={"memory_limit": os.environ.get("GATEHOUSE_MEMORY_LIMIT", "16GB")})


def _fail(path: Path, problem: str) -> None:
    raise InputError(f"{path}: {problem}")


def _stored_types(con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str]) -> dict[str, str]:
    """The file's column types (from its schema); fail on a missing or unreadable file or a missing column."""
    if not path.is_file():
        _fail(path, missing_file(path))
    try:
        stored = {name: kind for name, kind, *_ in con.execute(
            f"describe select * from read_parquet('{_escape(path)}')").fetchall()}
    except duckdb.Error as error:
        _fail(path, f"not a readable parquet file ({error})")
    missing = [name for name in columns if name not in stored]
    if missing:
        _fail(path, f"missing column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    return stored


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str]) -> None:
    """Expose the file as temp view `loaded` with typed columns; fail on missing, mistyped or null values."""
    _stored_types(con, path, columns)
    _typed_view(con, path, columns, f"read_parquet('{_escape(path)}')")


def _typed_view(con: duckdb.DuckDBPyConnection, path: Path, columns: dict[str, str], source: str) -> None:
    """Temp view `loaded` over `source` with typed columns; fail on mistyped or null values."""
    casts = ", ".join(f"try_cast({name} as {kind}) as {name}" for name, kind in columns.items())
    raw = ", ".join(f"{name} as raw_{name}" for name in columns)
    con.execute(f"create or replace temp view loaded as select {casts}, {raw} from {source}")
    counts = ", ".join(f"count_if({name} is null and raw_{name} is not null), count_if(raw_{name} is null), "
                       f"{_lossy_count(name) if columns[name] in INTEGER_TYPES else '0'}" for name in columns)
    problems = con.execute(f"select {counts} from loaded").fetchone()
    for index, name in enumerate(columns):
        mistyped, nulls, lossy = problems[3 * index: 3 * index + 3]
        if lossy:
            first = con.execute(f"select raw_{name} from loaded where {_lossy(name)} limit 1").fetchone()[0]
            _fail(path, f"column {name}: {lossy} value(s) are not whole numbers (first {first!r}); expected "
                        f"{columns[name]}")
        if mistyped:
            _fail(path, f"column {name}: {mistyped} value(s) are not {columns[name]}")
        if nulls:
            _fail(path, f"column {name}: {nulls} null value(s)")


def _lossy(name: str) -> str:
    """A value that an integer cast would round (1.5 -> 2) rather than refuse."""
    return f"try_cast(raw_{name} as DOUBLE) <> try_cast({name} as DOUBLE)"


def _lossy_count(name: str) -> str:
    return f"count_if({_lossy(name)})"


def _escape(path: Path) -> str:
    return str(path).replace("'", "''")


def _scalar(con, sql: str, *params):
    return con.execute(sql, list(params)).fetchone()[0]


def _check_known(con, path, column, allowed, what):
    unknown = [row[0] for row in con.execute(f"select distinct {column} from loaded order by 1").fetchall()
               if row[0] not in allowed]
    if unknown:
        _fail(path, f"column {column}: {what} {unknown[:5]} not in {list(allowed)}")


def validate_summaries(path: Path, con: duckdb.DuckDBPyConnection, roles=None) -> dict:
    """Checks the per-layer summary file; returns the lattice per model role. `roles`: the model
    roles the build needs, each with rows (else an empty condition)."""
    constants = canon()
    _read_parquet(con, path, SUMMARY_COLUMNS)
    _check_known(con, path, "spike_def_id", constants["spike_defs"], "unknown spike_def_id")
    _check_known(con, path, "gain", constants["gain_grid"], "gain(s)")
    present = {row[0] for row in con.execute("select distinct model_role from loaded").fetchall()}
    for role in roles or ():
        if role not in present:
            _fail(path, f"column model_role: no rows for model_role {role}: an empty condition "
                        f"(the file has {sorted(present)})")
    for column in ("v_min", "v_max", "floor"):
        if _scalar(con, f"select count(*) from loaded where not isfinite({column})"):
            _fail(path, f"column {column}: non-finite values (NaN/inf)")
    for column in ("n_sequences", "seq_len", "d_ff"):
        if n := _scalar(con, f"select count(*) from loaded where {column} <= 0"):
            _fail(path, f"column {column}: {n} value(s) not positive")
    if n := _scalar(con, "select count(*) from loaded "
                         "where n_sequences::hugeint * seq_len * d_ff > 9223372036854775807"):  # 2^63 - 1
        _fail(path, f"columns n_sequences/seq_len/d_ff: {n} row(s) whose n_sequences*seq_len*d_ff values do not fit "
                    "a 64-bit count")
    if n := _scalar(con, "select count(*) from loaded where v_min > v_max"):
        _fail(path, f"columns v_min/v_max: {n} row(s) with v_min > v_max")
    # One model role is one model: every condition has the layers 0..L-1, L = the role's largest layer + 1.
    gaps = con.execute("""
        with conditions as (
            select model_role, spike_def_id, gain, count(distinct layer) as n, count(*) as n_rows,
                   min(layer) as lo, max(layer) as hi
            from loaded group by all),
        roles as (select model_role, max(hi) + 1 as n_layers from conditions group by all)
        select model_role, spike_def_id, gain, n, lo, hi, n_layers, n_rows from conditions join roles using (model_role)
        where lo <> 0 or hi <> n_layers - 1 or n <> n_layers or n_rows <> n order by all limit 1""").fetchall()
    if gaps:
        role, spike_def, gain, n, lo, hi, n_layers, n_rows = gaps[0]
        if n_rows != n:
            _fail(path, f"column layer: ({role}, {spike_def}, g={gain}) has {n_rows} rows for {n} distinct layers: "
                        "a layer appears more than once (one summary row per layer)")
        _fail(path, f"column layer: ({role}, {spike_def}, g={gain}) has {n} distinct layers {lo}..{hi}, "
                    f"not 0..{n_layers - 1} (the layers of model_role {role}) once each (missing layers?)")
    small = con.execute("select model_role, gain, layer, n_sequences * seq_len * d_ff from loaded "
                        "where n_sequences::bigint * seq_len * d_ff < ? order by all limit 1",
                        [constants["min_cal_samples"]]).fetchall()
    if small:
        role, gain, layer, n = small[0]
        _fail(path, f"columns n_sequences*seq_len*d_ff: calibration sample of {n} values for ({role}, g={gain}, "
                    f"layer {layer}) is below RATE_MATCH_MIN_CAL_SAMPLES={constants['min_cal_samples']}")
    if n := _scalar(con, "select count(*) from loaded where n_above_tau0 < 0 "
                         "or n_above_tau0 > n_sequences::bigint * seq_len * d_ff"):
        _fail(path, f"column n_above_tau0: {n} value(s) outside [0, n_sequences*seq_len*d_ff] (a count of values)")
    missing = con.execute("""
        with roles as (select distinct model_role from loaded),
        grid as (select * from roles, (select unnest(?) as spike_def_id), (select unnest(?) as gain))
        select * from grid except select model_role, spike_def_id, gain from loaded order by all limit 1""",
                          [list(constants["spike_defs"]), list(constants["gain_grid"])]).fetchall()
    if missing:
        _fail(path, f"columns spike_def_id/gain: no rows for condition {missing[0]} of the gain grid")
    lattice = con.execute("""select model_role, max(layer) + 1, min(seq_len), max(seq_len), min(n_sequences),
                                    max(n_sequences), min(d_ff), max(d_ff)
                             from loaded group by model_role order by 1""").fetchall()
    for role, n_layers, t_lo, t_hi, n_lo, n_hi, d_lo, d_hi in lattice:
        if t_lo != t_hi or n_lo != n_hi or d_lo != d_hi:
            _fail(path, f"columns seq_len/n_sequences/d_ff: model_role {role} mixes several lattices")
    return {role: {"n_layers": n_layers, "seq_len": t_lo, "n_sequences": n_lo, "d_ff": d_lo}
            for role, n_layers, t_lo, _, n_lo, _, d_lo, _ in lattice}


INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
FLOAT_TYPES = ("FLOAT", "DOUBLE")


def _event_type_ok(kind: str, stored: str) -> bool:
    if kind == "VARCHAR":
        return stored == "VARCHAR"
    if kind in ("FLOAT", "DOUBLE"):
        return stored in FLOAT_TYPES or stored.startswith("DECIMAL") or stored in INTEGER_TYPES
    return stored in INTEGER_TYPES


def check_event_file(path: Path, con: duckdb.DuckDBPyConnection, lattices: dict) -> None:
    """File-level checks of the events (columns, types, model roles), without reading every row.

    The row checks (finite z, lattice bounds, gains, duplicates, empty conditions) are made by
    pass 1 of the build (`event_scan`), which reads every event anyway.
    """
    stored = _stored_types(con, path, EVENT_COLUMNS)
    for name, kind in EVENT_COLUMNS.items():
        if not _event_type_ok(kind, stored[name]):
            _fail(path, f"column {name}: type {stored[name]}, expected {kind}")
    roles = _event_roles(path, con)
    if None in roles:
        _fail(path, "column model_role: null value(s); every event names its model role")
    unknown = [role for role in roles if role not in lattices]
    if unknown:
        _fail(path, f"column model_role: model_role(s) without summaries: {unknown[:5]} not in {list(lattices)}")


def _event_roles(path: Path, con: duckdb.DuckDBPyConnection) -> list:
    """Distinct model roles, from the row-group statistics when every row group has one role."""
    statistics = con.execute(f"""select row_group_id, stats_min_value, stats_max_value, stats_null_count
                                 from parquet_metadata('{_escape(path)}') where path_in_schema = 'model_role'""").fetchall()
    if statistics and all(low is not None and low == high for _, low, high, _ in statistics):
        if not any(nulls for *_, nulls in statistics):
            return sorted({low for _, low, _, _ in statistics})
    return [row[0] for row in con.execute(
        f"select distinct model_role from read_parquet('{_escape(path)}') order by 1").fetchall()]


def validate_events(path: Path, con: duckdb.DuckDBPyConnection, lattices: dict,
                    source: str = "the summaries") -> None:
    """Every check of the events: the file-level ones, then the row checks of pass 1 (lattice from `source`)."""
    from gatehouse.criticality import event_readers, event_scan  # here: numba only where rows are read

    check_event_file(path, con, lattices)
    typed = ", ".join(f"try_cast({name} as {kind}) as {name}" for name, kind in EVENT_COLUMNS.items())
    events = event_readers.ParquetEvents(path, con.sql(f"select {typed} from read_parquet('{_escape(path)}')"))
    try:
        for role, lattice in lattices.items():
            layout = event_scan.RoleLayout.for_checks(role, canon()["gain_grid"], lattice, source)
            event_scan.validate_role(events, layout)
    except event_readers.EventsError as error:
        _fail(path, str(error))


def validate_event_files(events: Path, summaries: Path, roles=None) -> None:
    """The checks made before the build reads the events in place: summaries, event columns and roles."""
    with _connect() as con:
        check_event_file(Path(events), con, validate_summaries(Path(summaries), con, roles))


def validate_spike_inputs(events: Path, summaries: Path, roles=None) -> None:
    with _connect() as con:
        validate_events(Path(events), con, validate_summaries(Path(summaries), con, roles), str(summaries))


def load_rasters(npz_path: Path, conditions_path: Path) -> pd.DataFrame:
    """Occupied sites (cond_id, model_role, spike_def_id, target_rate, gain, seq_id, layer, token, a)
    from a raster NPZ with keys X, A [C, N, L, T], cond_id [C], seq_id [N], plus a condition map."""
    npz_path, conditions_path = Path(npz_path), Path(conditions_path)
    arrays = _read_npz(npz_path)
    for key, rank in (("X", 4), ("A", 4), ("cond_id", 1), ("seq_id", 1)):
        if key not in arrays:
            _fail(npz_path, f"missing key {key}; expected X, A [C,N,L,T], cond_id [C], seq_id [N]")
        if arrays[key].ndim != rank:
            _fail(npz_path, f"key {key}: rank {arrays[key].ndim}, expected {rank}")
        if arrays[key].dtype.kind not in ("biu" if rank == 1 else "biuf"):
            _fail(npz_path, f"key {key}: dtype {arrays[key].dtype}, expected {'integers' if rank == 1 else 'counts'}")
    for key in ("cond_id", "seq_id"):
        if np.unique(arrays[key]).size != arrays[key].size:
            _fail(npz_path, f"key {key}: duplicate values")
    counts, occupied = arrays["A"], arrays["X"]
    _check_counts(npz_path, counts)
    if counts.shape != occupied.shape:
        _fail(npz_path, f"keys X/A: shapes differ {occupied.shape} vs {counts.shape}")
    if counts.shape[0] != arrays["cond_id"].size or counts.shape[1] != arrays["seq_id"].size:
        _fail(npz_path, "keys cond_id/seq_id: lengths do not match the C and N axes of A")
    if n := np.count_nonzero((occupied != 0) & (occupied != 1)):
        _fail(npz_path, f"key X: {n} value(s) other than 0 and 1; X is occupancy (A > 0)")
    if not np.array_equal(occupied.astype(bool), counts > 0):
        _fail(npz_path, "keys X/A: X differs from A > 0")
    empty = np.flatnonzero(~counts.any(axis=(1, 2, 3)))
    if empty.size:
        _fail(npz_path, f"key A: condition cond_id={arrays['cond_id'][empty[0]]} has no occupied site: "
                        "an empty condition")
    conditions = _load_conditions(conditions_path, arrays["cond_id"])
    c, n, layer, token = np.nonzero(counts)
    sites = pd.DataFrame({"cond_id": arrays["cond_id"][c].astype(np.int32),
                          "seq_id": arrays["seq_id"][n].astype(np.int32),
                          "layer": layer.astype(np.int32), "token": token.astype(np.int32),
                          "a": counts[c, n, layer, token].astype(np.int64)})
    lattice = pd.DataFrame({"cond_id": arrays["cond_id"].astype(np.int32), "n_sequences": counts.shape[1],
                            "n_layers": counts.shape[2], "seq_len": counts.shape[3]})
    return sites.merge(conditions, on="cond_id"), conditions.merge(lattice, on="cond_id")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an NPZ file; a named error for anything else (missing, not a zip, corrupt, a .npy)."""
    if not path.is_file():
        _fail(path, missing_file(path))
    try:
        npz = np.load(path, allow_pickle=False)
        if isinstance(npz, np.lib.npyio.NpzFile):
            with npz:
                return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        _fail(path, f"not a readable NPZ file ({type(error).__name__}: {error})")
    _fail(path, "not an NPZ file but a single array (.npy); expected keys X, A, cond_id, seq_id")


def _check_counts(path: Path, counts: np.ndarray) -> None:
    """A holds spike counts: finite, non-negative integers (NaN would become an occupied site)."""
    if counts.dtype.kind == "f":
        if n := np.count_nonzero(~np.isfinite(counts)):
            _fail(path, f"key A: {n} NaN/inf value(s); expected spike counts")
        if n := np.count_nonzero(counts != np.floor(counts)):
            _fail(path, f"key A: {n} non-integer value(s); expected spike counts")
    if n := np.count_nonzero(counts < 0):
        _fail(path, f"key A: {n} negative value(s); expected spike counts")
    if n := np.count_nonzero(counts > np.iinfo(np.int32).max):
        _fail(path, f"key A: {n} value(s) above 2^31 - 1; a spike count per site fits 32 bits")


def _load_conditions(path: Path, cond_ids: np.ndarray) -> pd.DataFrame:
    constants = canon()
    con = _connect()
    try:
        _read_parquet(con, path, CONDITION_COLUMNS) if path.suffix == ".parquet" else _read_csv(con, path)
        _check_known(con, path, "spike_def_id", constants["spike_defs"], "unknown spike_def_id")
        _check_known(con, path, "gain", constants["gain_grid"], "gain(s)")
        _check_known(con, path, "target_rate", constants["target_rates"], "target_rate(s)")
        frame = con.execute(f"select {', '.join(CONDITION_COLUMNS)} from loaded order by cond_id").df()
    finally:
        con.close()
    if frame.cond_id.duplicated().any() or set(frame.cond_id) != set(cond_ids.tolist()):
        _fail(path, "column cond_id: must list each cond_id of the NPZ exactly once")
    _check_condition_grid(path, frame, constants)
    return frame


def _check_condition_grid(path: Path, frame: pd.DataFrame, constants: dict) -> None:
    """One cond_id per condition, and every condition of the grid for each model role in the file."""
    key = ["model_role", "spike_def_id", "target_rate", "gain"]
    repeated = frame[frame.duplicated(key, keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        condition = tuple(value.item() if isinstance(value, np.generic) else value for value in first[key])
        _fail(path, f"columns {'/'.join(key)}: condition {condition} has cond_ids "
                    f"{sorted(repeated.loc[(repeated[key] == first[key]).all(axis=1), 'cond_id'].tolist())}; "
                    "one cond_id per condition")
    present = set(frame[key].itertuples(index=False, name=None))
    for role in sorted(frame.model_role.unique()):
        missing = [(role, spike_def, rate, gain) for spike_def in constants["spike_defs"]
                   for rate in constants["target_rates"] for gain in constants["gain_grid"]
                   if (role, spike_def, rate, gain) not in present]
        if missing:
            _fail(path, f"columns {'/'.join(key)}: model_role {role} lacks {len(missing)} condition(s) of the grid, "
                        f"first {missing[0]}; rasters cover every spike_def_id x target_rate x gain of a role")


def _read_csv(con, path: Path) -> None:
    if not path.is_file():
        _fail(path, missing_file(path))
    try:
        con.execute(f"create or replace temp view raw_csv as select * from read_csv('{_escape(path)}', header=true)")
        present = [c[0] for c in con.execute("describe raw_csv").fetchall()]
    except duckdb.Error as error:
        _fail(path, f"not a readable CSV file ({error})")
    missing = [name for name in CONDITION_COLUMNS if name not in present]
    if missing:
        _fail(path, f"missing column(s) {', '.join(missing)}")
    _typed_view(con, path, CONDITION_COLUMNS, "raw_csv")


def validate_metrics(path: Path) -> None:
    """A metrics.parquet select-gstar can read: spike_def_id, target_rate, gain (or `g`), b_tot, and an
    optional model_role, covering gains of the grid with finite b_tot. Other columns are ignored."""
    path = Path(path)
    con = _connect()
    try:
        present = _stored_types(con, path, {})  # named error for a missing, empty or non-parquet file
        columns = {name: kind for name, kind in METRICS_COLUMNS.items()}
        if "gain" not in present and "g" in present:
            columns["g"] = columns.pop("gain")
        if "model_role" in present:
            columns["model_role"] = "VARCHAR"
        _read_parquet(con, path, columns)
        _check_known(con, path, "gain" if "gain" in columns else "g", canon()["gain_grid"], "gain(s)")
        if _scalar(con, "select count(*) from loaded where not isfinite(b_tot)"):
            _fail(path, "column b_tot: non-finite value(s) (NaN/inf)")
    finally:
        con.close()
