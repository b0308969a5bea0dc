# Two commands on a fresh machine (Python >= 3.11, pip, make):
#   make demo   - install, write the Guangdong demo, derive and publish every product
#   make test   - install with test tools and run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO ?= weatherdata-demo

.PHONY: demo test lint format bench clean

$(BIN)/weatherdata: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/weatherdata
	$(BIN)/weatherdata demo --out $(DEMO)/input
	$(BIN)/weatherdata publish $(DEMO)/input --root $(DEMO)/products

# tests/test_interop.py also reads every store with zarrita.js (Node.js) when npm exists:
# install its locked packages; with WEATHERDATA_ZARRITA set those tests fail, never skip.
ZARRITA := build/zarrita
# The test files run on one process per core (at most four; each publishes the coarse demo
# once for its files): ~9 min on two cores against ~15 on one. PYTEST_WORKERS= runs on one.
PYTEST_WORKERS ?= --numprocesses auto --maxprocesses 4 --dist loadfile
test: $(BIN)/weatherdata
	@if command -v npm >/dev/null; then \
		mkdir -p $(ZARRITA) && cp tests/interop/zarrita/package.json tests/interop/zarrita/package-lock.json $(ZARRITA)/ && \
		npm ci --prefix $(ZARRITA) --no-audit --no-fund --ignore-scripts --silent; \
	else echo "npm not found: the zarrita.js interoperability tests are skipped (tensorstore's run)"; fi
	env $$(command -v npm >/dev/null && echo "WEATHERDATA_ZARRITA=$(CURDIR)/$(ZARRITA)") $(BIN)/python -m pytest -q $(PYTEST_WORKERS)

lint: $(BIN)/weatherdata
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/weatherdata
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/weatherdata
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(DEMO) build dist *.egg-info
