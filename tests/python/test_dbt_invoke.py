"""A failed gate's message carries the first rows it stored, so the user sees why without opening the warehouse."""

import duckdb

from gatehouse import dbt_invoke


def test_first_failing_rows_come_from_the_audit_schema(tmp_path):
    database = tmp_path / "w.duckdb"
    con = duckdb.connect(str(database))
    con.execute(f"create schema {dbt_invoke.AUDIT_SCHEMA}")
    con.execute(f'create table {dbt_invoke.AUDIT_SCHEMA}."gate_x" as select * from (values (1, \'DE\'), (2, \'FR\'), '
                f"(3, 'IT'), (4, 'ES')) as t(seed, country_iso)")
    con.close()
    failed = {"name": "gate_x", "unique_id": "test.gatehouse.gate_x", "status": "fail"}
    text = dbt_invoke._first_failures(database, failed)
    assert text.startswith("\n    first failing rows (main_dbt_test__audit.gate_x): ")
    assert "'country_iso': 'DE'" in text and "'IT'" in text and "'ES'" not in text  # three rows at most
    assert dbt_invoke._first_failures(database, {**failed, "status": "error"}) == ""  # a model error has no rows
    assert dbt_invoke._first_failures(database, {**failed, "name": "gate_missing"}) == ""
    assert dbt_invoke._first_failures(tmp_path / "absent.duckdb", failed) == ""


def test_saved_parses_are_kept_per_inputs_and_the_closest_one_is_restored(tmp_path, monkeypatch):
    import os

    project = tmp_path / "project"
    default, other = {"spike_source": "synthetic"}, {"spike_source": "events"}
    exact = dbt_invoke._cached_parse(project, {}, default)
    assert exact != dbt_invoke._cached_parse(project, {}, other) != dbt_invoke._cached_parse(project, {"v": 1}, other)

    def save(inputs, content, mtime):
        parsed = tmp_path / "parsed.msgpack"
        parsed.write_bytes(content)
        cached = dbt_invoke._cached_parse(project, {}, inputs)
        dbt_invoke._keep_parse(parsed, cached)
        os.utime(cached, (mtime, mtime))

    def restored(inputs):
        target = tmp_path / "target"
        (target / "partial_parse.msgpack").unlink(missing_ok=True)
        dbt_invoke._restore_parse(dbt_invoke._cached_parse(project, {}, inputs), {}, target)
        return (target / "partial_parse.msgpack").read_bytes() if (target / "partial_parse.msgpack").exists() else None

    assert restored(default) is None  # nothing saved yet: dbt parses in full
    save(default, b"default", 1000)
    save(other, b"other", 2000)
    assert restored(default) == b"default"  # its own parse, although another one is newer
    assert restored({"spike_source": "rasters"}) == b"other"  # no own parse: the newest with the same vars
    monkeypatch.setattr(dbt_invoke, "KEPT_PARSES", 2)
    save({"spike_source": "third"}, b"third", 3000)
    assert not exact.exists() and restored(default) == b"third"  # its parse, the oldest, was pruned
