# The two commands: `make run` and `make test`. Both set up everything on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

NODE_INSTALLED := node_modules/.installed

.PHONY: install migrate run test lint typecheck check lock clean cql cql-check examples

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,postgres]'
	touch $@

# Node is build and test tooling only: the official CQL translator and the oracle engine.
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(INSTALLED)

# Translate cql/*.cql into cql/elm/*.json (commit the result).
cql: $(NODE_INSTALLED)
	node tools/cql/translate.mjs

# Fails when the committed ELM is not what the CQL translates to.
cql-check: $(NODE_INSTALLED)
	node tools/cql/translate.mjs --check

# Rewrite fhir_examples/ from tools/examples/build_examples.py (review the diff).
examples: install
	$(BIN)/python tools/examples/build_examples.py

migrate: install
	$(BIN)/python -m service migrate

# Development defaults: loopback FHIR servers allowed, client authentication off (the log says
# so loudly). Override any of them from the environment.
run: install
	ENVIRONMENT=$${ENVIRONMENT:-development} AUTH_MODE=$${AUTH_MODE:-off} \
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m service serve

test: migrate cql-check
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check service tests
	$(BIN)/ruff format --check service tests

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

# Refresh the pinned versions after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules
