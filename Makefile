# Two entry points (see README): `make build` runs the main job, `make test` runs every test.
# Both install into .venv first, from pinned versions, so a clean clone needs nothing else.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DBT_PROFILES_DIR := profiles

.PHONY: install build test test-spark bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,models]'
	touch $@

install: $(BIN)/.installed

# the optional Spark route (issue 13): dbt-spark[session] + pyspark, pinned like the rest; needs Java 17
$(BIN)/.spark-installed: $(BIN)/.installed
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[test,models,spark]'
	touch $@

build: install
	$(BIN)/dbt build

test: install
	$(BIN)/pytest -n 2
	$(BIN)/pytest -q tests/readme  # every README command in order, `make build` (dbt build, all gates) first

# Both pipelines built on the local Spark session and on DuckDB, every table compared (report printed and
# written to target/spark-test/spark_comparison_<pipeline>.md), bad inputs refused with the same errors.
test-spark: $(BIN)/.spark-installed
	rm -rf target/spark-test
	GATEHOUSE_SPARK_TEST_OUT=$(CURDIR)/target/spark-test $(BIN)/pytest -n 2 tests/spark  # --dist loadfile (pyproject): one worker per module

bench: $(BIN)/.spark-installed  # results and their commands go into BENCHMARKS.md (the Spark bench needs the extra)
	$(BIN)/python -m bench.criticality_bench --events 1e6 1e7 1e8 --repeat 2 --markdown BENCHMARKS.md
	$(BIN)/python -m bench.toolkit_bench --events 1e7 --command-events 1e8 --repeat 3 --markdown BENCHMARKS.md
	$(BIN)/python -m bench.sites_bench --sites 1e5 1e6 --certify --baseline e2bc2b5 --repeat 2 --markdown BENCHMARKS.md
	$(BIN)/python -m bench.transformer_bench --markdown BENCHMARKS.md
	$(BIN)/python -m bench.spark_bench --sites 1e6 --events 1e7 1e8 --workdir /tmp/bench/spark2 --markdown BENCHMARKS.md

clean:
	rm -rf target logs data/*.duckdb
