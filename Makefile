# The two commands: `make run` (the whole local stack with demo cases) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-faults lint install browser postgres clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/aha dev

# The browser tests need Chromium: as root, installed with apt-get when missing (see the script).
browser:
	bash scripts/install-browser

# The store tests start a real PostgreSQL: as root, installed with apt-get when missing.
postgres:
	bash scripts/install-postgres

# pytest exits 5 when it collected no tests; make treats that, like any non-zero code, as failure.
test: $(STAMP) lint browser postgres
	$(BIN)/pytest -n 3 --dist loadfile

# The fault tests alone (they also run in `make test`): real processes killed and cut off.
test-faults: $(STAMP)
	$(BIN)/pytest -n 3 --dist loadfile -m faults

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

clean:
	rm -rf $(VENV) .aha .pytest_cache .mypy_cache .ruff_cache .import_linter_cache *.egg-info
