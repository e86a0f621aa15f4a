"""Table-by-table comparison of two builds: rows matched by their values (floats last), numeric columns
by relative difference, every other column (keys, hashes, labels) exactly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ColumnDifference:
    table: str
    column: str
    kind: str                 # float | exact
    rows: int
    max_relative: float       # float columns; 0 or inf (a mismatch) for exact ones

    def within(self, tolerance: float) -> bool:
        return self.max_relative <= tolerance


def relative_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a - b| / max(|a|, |b|); 0 where both are equal (including both NaN or the same infinity)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = np.abs(a - b) / np.maximum(np.abs(a), np.abs(b))
    return np.where(same, 0.0, np.where(np.isnan(difference), np.inf, difference))


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals (DuckDB ENUMs) as strings and blobs (DuckDB bytearray) as bytes, so both engines' frames
    have the same kinds of columns."""
    frame = frame.astype({name: object for name, kind in frame.dtypes.items() if isinstance(kind, pd.CategoricalDtype)})
    blobs = [name for name in frame.columns if frame[name].dtype == object
             and frame[name].map(lambda value: isinstance(value, (bytearray, memoryview))).any()]
    return frame.assign(**{name: frame[name].map(lambda value: bytes(value) if isinstance(value, (bytearray, memoryview))
                                                 else value) for name in blobs})


def _is_float(series: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(series.dtype)


def compare_table(name: str, reference: pd.DataFrame, other: pd.DataFrame) -> list[ColumnDifference]:
    """One ColumnDifference per column of `reference`; a missing column or a row count that differs is inf."""
    reference, other = _plain(reference), _plain(other)
    missing = [column for column in reference.columns if column not in other.columns]
    if missing or len(reference) != len(other):
        return [ColumnDifference(name, column, "missing" if column in missing else "rows", len(reference), np.inf)
                for column in reference.columns]
    columns = list(reference.columns)
    floats = [column for column in columns if _is_float(reference[column]) or _is_float(other[column])]
    order = [column for column in columns if column not in floats] + floats
    reference = reference.sort_values(order, kind="mergesort", na_position="first").reset_index(drop=True)
    other = other[columns].sort_values(order, kind="mergesort", na_position="first").reset_index(drop=True)
    differences = []
    for column in columns:
        if column in floats:
            worst = relative_difference(reference[column].to_numpy(np.float64), other[column].to_numpy(np.float64))
            differences.append(ColumnDifference(name, column, "float", len(reference),
                                                float(worst.max()) if len(worst) else 0.0))
        else:
            left, right = reference[column].astype(object), other[column].astype(object)
            equal = (left == right) | (left.isna() & right.isna())
            differences.append(ColumnDifference(name, column, "exact", len(reference), 0.0 if equal.all() else np.inf))
    return differences


def markdown_report(differences: list[ColumnDifference], tolerance: float, title: str) -> str:
    lines = [f"# {title}", "", f"Relative tolerance {tolerance:g} for float columns; every other column exactly.", "",
             "| table | column | kind | rows | max relative difference | ok |", "|---|---|---|---:|---:|---|"]
    for item in differences:
        lines.append(f"| {item.table} | {item.column} | {item.kind} | {item.rows} | {item.max_relative:.3g} | "
                     f"{'yes' if item.within(tolerance) else 'NO'} |")
    return "\n".join(lines) + "\n"
