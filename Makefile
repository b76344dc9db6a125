# Two commands for a fresh machine: `make run` starts everything; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: run test test-fast check lint typecheck pytest test-postgres bench clean user histories browser

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## start Temporal (with its UI on :8233), the worker and the API on :8000
	scripts/run-local.sh

user: $(STAMP)  ## create a local user: make user NAME=alice ROLE=prosecutor AREA=north
	$(BIN)/cases-admin create-user --username $(NAME) --role $(ROLE) --area $(AREA)

test: $(STAMP) lint typecheck pytest  ## everything CI runs for one database

test-fast: $(STAMP)  ## the pure tests only (the lifecycle, guards, deadlines, retention): seconds
	$(BIN)/pytest -q -m pure

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy .

# The dashboard's browser tests drive Debian's chromium (never a downloaded browser): install it
# when it is missing and we are root; elsewhere those tests skip and say why.
browser:
	@command -v chromium >/dev/null || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

pytest: $(STAMP) browser
	$(BIN)/pytest -q --durations=15

test-postgres: $(STAMP) browser  ## the suite with the read model on PostgreSQL at 127.0.0.1:5432
	CASES_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(BIN)/pytest -q --durations=15

histories: $(STAMP)  ## re-record tests/histories/ for the replay test (docs/versioning.md first)
	$(BIN)/python -m scripts.record_histories

bench: $(STAMP)  ## every user-facing path against the bare Temporal floor; writes docs/benchmarks.md
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache
