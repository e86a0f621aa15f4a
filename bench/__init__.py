"""Benchmarks (run as modules, e.g. `python -m bench.criticality_bench`); scratch data goes under /tmp."""
