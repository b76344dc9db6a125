"""`python -m bench`: every user-facing path measured against the bare Temporal floor
(see bench/__main__.py and docs/benchmarks.md)."""
