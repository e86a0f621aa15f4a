"""Tables as the rows of a JSON document, one conversion for every 1B output file."""

from __future__ import annotations

import json

import pandas as pd


def json_records(frame: pd.DataFrame) -> list[dict]:
    """One dict per row, converted the way pandas writes JSON (NaN/NA -> None, numpy scalars -> Python)."""
    return json.loads(frame.to_json(orient="records"))
