"""The run record's schema (run_record.schema.json, versioned): every published record must satisfy it."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from gatehouse.runs.errors import RunError

RECORD_VERSION = "gatehouse.run_record.v1"
SCHEMA_PATH = Path(__file__).with_name("run_record.schema.json")


@lru_cache(maxsize=1)
def _validator():
    import jsonschema  # here: a tenth of a second that `gatehouse --help` need not pay

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def record_errors(record: dict) -> list[str]:
    """Every way `record` breaks the schema, as 'path: problem' lines (empty when it is valid)."""
    return [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
            for error in sorted(_validator().iter_errors(record), key=lambda error: list(error.absolute_path))]


def validate_record(record: dict) -> None:
    errors = record_errors(record)
    if errors:
        raise RunError(f"run_record.json of {record.get('run_id')} breaks {SCHEMA_PATH.name} "
                       f"({RECORD_VERSION}): " + "; ".join(errors[:5]))
