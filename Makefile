PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
UV_VERSION := 0.13.9
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock run test bench schema lint clean

install: $(STAMP)

# Installs exactly what requirements.lock names, each file checked against its hash; then the project itself
# (without dependencies), and `pip check` fails if pyproject.toml asks for something the lock lacks.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Re-resolves the lock from pyproject.toml's ranges (the newest versions they admit). See README "Upgrading".
lock: install
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 --quiet -o $(LOCK)

run: install
	$(BIN)/meetgraph serve --host $(HOST) --port $(PORT) --emulators

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

schema: install
	$(BIN)/meetgraph export-schema --possible-types possibleTypes.json > schema.graphql

clean:
	rm -rf $(VENV) *.egg-info
