# Everything a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# The engine's hot modules compiled with mypyc (engine/_native.py); rebuilt when they change.
NATIVE := build/native/stamp.json
NATIVE_SRC := $(wildcard engine/*.py) tools/build_native.py

FRONTEND := frontend
FRONTEND_DEPS := $(FRONTEND)/node_modules/.package-lock.json
FRONTEND_DIST := $(FRONTEND)/dist/index.html
FRONTEND_SRC := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json

.PHONY: run test lint format bench fuzz crash-test install native frontend clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(FRONTEND_DEPS): $(FRONTEND)/package.json $(FRONTEND)/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ (npm) is required to build the browser app"; exit 1; }
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	touch $(FRONTEND_DEPS)

# The browser app, built when missing or older than its sources.
$(FRONTEND_DIST): $(FRONTEND_DEPS) $(FRONTEND_SRC)
	cd $(FRONTEND) && npm run --silent build

frontend: $(FRONTEND_DIST)

# Never fails the build without a C compiler (the engine then runs as Python), except in CI.
$(NATIVE): $(STAMP) $(NATIVE_SRC)
	$(BIN)/python -m tools.build_native $${STEPWISE_REQUIRE_ALL:+--require} | grep -v '^\(gcc\|building\|creating\|copying\|engine/.*warning: Treating generator\)' || true
	@test -f $(NATIVE) || [ -z "$$STEPWISE_REQUIRE_ALL" ]

native: $(NATIVE)

install: $(STAMP) $(NATIVE) $(FRONTEND_DIST)

run: $(STAMP) $(NATIVE) $(FRONTEND_DIST)
	$(BIN)/stepwise run

# Every test on the engine as it runs (compiled when built), then the engine's own tests on
# the engine as plain Python too.
test: $(STAMP) $(NATIVE) $(FRONTEND_DIST)
	$(BIN)/python -m pytest -n 2 --dist loadfile
	STEPWISE_ENGINE=python $(BIN)/python -m pytest -n 2 -p no:cacheprovider tests/engine

lint: $(STAMP) $(FRONTEND_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd $(FRONTEND) && npx --no-install tsc --noEmit

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Many more generated requests per API operation than `make test` sends.
fuzz: $(STAMP)
	STEPWISE_FUZZ_EXAMPLES=$${STEPWISE_FUZZ_EXAMPLES:-200} $(BIN)/python -m pytest -p no:cacheprovider tests/app/test_api_fuzz.py

# kill -9 at random moments while orders run: SQLite, PostgreSQL, and two nodes on PostgreSQL.
crash-test: $(STAMP) $(FRONTEND_DIST)
	$(BIN)/python -m tests.crash.harness --db sqlite --orders 40 --kills 8
	$(BIN)/python -m tests.crash.harness --db postgresql --orders 40 --kills 8
	$(BIN)/python -m tests.crash.harness --db postgresql --orders 40 --kills 5 --nodes 2

bench: $(STAMP) $(NATIVE)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info $(FRONTEND)/node_modules $(FRONTEND)/dist
