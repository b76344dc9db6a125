"""`python -m bench`: the benchmark of issue 9 (see bench/__main__.py and docs/benchmarks.md)."""
