"""What the raw spike models load: the synthetic default, user parquet files, or imported rasters."""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

import pandas as pd
import pyarrow

from gatehouse.criticality import loaders, synthetic
from gatehouse.spark.frames import on_spark, spark_read_parquet

EMPTY_RASTER_SITES = {"cond_id": "int32", "seq_id": "int32", "layer": "int32", "token": "int32", "a": "int64",
                      "model_role": "object", "spike_def_id": "object", "target_rate": "float64",
                      "gain": "float64"}
EMPTY_RASTER_CONDITIONS = {"cond_id": "int32", "model_role": "object", "spike_def_id": "object",
                           "target_rate": "float64", "gain": "float64", "n_sequences": "int64",
                           "n_layers": "int64", "seq_len": "int64"}


def empty_frame(schema: dict) -> pd.DataFrame:
    """No rows, with the columns and dtypes of `schema` (so DuckDB types the empty table)."""
    return pd.DataFrame({name: pd.Series(dtype=kind) for name, kind in schema.items()})


_GENERATING = threading.Lock()  # the events and summaries models may start together: generate once


def _synthetic(preset: str, seed: int, roles: tuple[str, ...]):
    with _GENERATING:
        return _generated(preset, seed, roles)


@lru_cache(maxsize=2)
def _generated(preset: str, seed: int, roles: tuple[str, ...]):
    return synthetic.generate(preset, seed, roles)


def _inputs(spike_inputs: dict) -> dict:
    """The model's `spike_inputs` config: the spike_* vars and model_roles (comma-separated)."""
    return dict(spike_inputs)


def _roles(inputs: dict) -> tuple[str, ...]:
    return tuple(role for role in inputs["model_roles"].split(",") if role)


def _empty_input(columns: dict[str, str]) -> pd.DataFrame:
    """An empty input table with the loader's columns (strings, else numbers)."""
    return empty_frame({name: "object" if sql_type == "VARCHAR" else "float64" for name, sql_type in columns.items()})


def _for_session(frame: pd.DataFrame, session):
    """DuckDB stores an Arrow table of the synthetic events in a third of a pandas frame's time (3M rows:
    0.5 s against 1.3 s); Spark takes the pandas frame."""
    return frame if on_spark(session) else pyarrow.Table.from_pandas(frame, preserve_index=False)


def spike_table(spike_inputs: dict, kind: str, session):
    """kind = events | summaries: the synthetic frame, or the validated user summaries as a relation.

    User events are not copied: stg_spikes__events reads the parquet in place, after this model
    (kind = summaries) has checked both files; the row checks follow in int_tail_histograms.
    """
    inputs = _inputs(spike_inputs)
    source = inputs["spike_source"]
    if source == "synthetic":
        events, summaries = _synthetic(inputs["spike_preset"], int(inputs["spike_seed"]), _roles(inputs))
        return _for_session(events if kind == "events" else summaries, session)
    if source == "events":
        if kind == "events":
            return _empty_input(loaders.EVENT_COLUMNS)
        summaries = Path(inputs["spike_summaries_path"])
        loaders.validate_event_files(Path(inputs["spike_events_path"]), summaries, _roles(inputs))
        casts = ", ".join(f"cast({name} as {sql_type}) as {name}" for name, sql_type in loaders.SUMMARY_COLUMNS.items())
        roles = ", ".join("'" + role.replace("'", "''") + "'" for role in _roles(inputs))
        if on_spark(session):
            return spark_read_parquet(session, summaries, loaders.SUMMARY_COLUMNS, f"model_role in ({roles})")
        return session.sql(f"select {casts} from read_parquet('{str(summaries).replace(chr(39), chr(39) * 2)}') "
                           f"where model_role in ({roles})")
    if source == "rasters":
        return _empty_input(loaders.EVENT_COLUMNS if kind == "events" else loaders.SUMMARY_COLUMNS)
    raise ValueError(f"var spike_source={source!r}: expected synthetic, events or rasters")


def user_events_path(spike_inputs: dict) -> Path | None:
    """The user's events parquet when the build reads one (var spike_source = events)."""
    inputs = _inputs(spike_inputs)
    return Path(inputs["spike_events_path"]) if inputs["spike_source"] == "events" else None


def events_label(spike_inputs: dict) -> str:
    """How errors name the events: the user's file, or the synthetic preset."""
    inputs = _inputs(spike_inputs)
    if inputs["spike_source"] == "events":
        return str(Path(inputs["spike_events_path"]))
    return f"synthetic events (preset {inputs['spike_preset']}, seed {inputs['spike_seed']})"


def summaries_label(spike_inputs: dict) -> str:
    """How errors name the summaries: the user's file, or the synthetic preset."""
    inputs = _inputs(spike_inputs)
    if inputs["spike_source"] == "events":
        return str(Path(inputs["spike_summaries_path"]))
    return f"synthetic summaries (preset {inputs['spike_preset']}, seed {inputs['spike_seed']})"


@lru_cache(maxsize=1)
def _rasters(rasters_path: str, conditions_path: str):
    return loaders.load_rasters(Path(rasters_path), Path(conditions_path))


def raster_table(spike_inputs: dict, kind: str):
    """kind = sites | conditions, from an imported raster NPZ (empty unless spike_source = rasters)."""
    inputs = _inputs(spike_inputs)
    if inputs["spike_source"] != "rasters":
        return empty_frame(EMPTY_RASTER_SITES if kind == "sites" else EMPTY_RASTER_CONDITIONS)
    sites, conditions = _rasters(inputs["spike_rasters_path"], inputs["spike_conditions_path"])
    roles = set(_roles(inputs))
    missing = sorted(roles - set(conditions.model_role))
    if missing:
        raise loaders.InputError(f"{Path(inputs['spike_conditions_path'])}: column model_role: no condition for "
                                 f"model_role {missing[0]}: an empty condition")
    frame = sites if kind == "sites" else conditions
    return frame[frame.model_role.isin(roles)].reset_index(drop=True)
