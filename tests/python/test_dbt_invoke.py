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
