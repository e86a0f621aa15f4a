"""Every SQL query in README.md runs against a warehouse built by the README's own `dbt build`, so the
README cannot drift from the models. Run by `make test` after its dbt build (GATEHOUSE_README_DB)."""

import os
import re
from pathlib import Path

import duckdb
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_queries() -> list[str]:
    blocks = re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    statements = [re.sub(r"--[^\n]*", "", part).strip() for block in blocks for part in block.split(";")]
    return [statement for statement in statements if statement]


def test_the_readme_has_queries():
    assert len(readme_queries()) >= 5


@pytest.mark.parametrize("query", readme_queries())
def test_readme_query_runs(query):
    database = os.environ.get("GATEHOUSE_README_DB")
    if not database:
        pytest.skip("GATEHOUSE_README_DB not set: run through `make test`, after its dbt build")
    con = duckdb.connect(database, read_only=True)
    try:
        rows = con.execute(query).fetchall()
    finally:
        con.close()
    assert rows is not None
