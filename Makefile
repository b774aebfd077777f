# Everything a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

FRONTEND := frontend
FRONTEND_DEPS := $(FRONTEND)/node_modules/.package-lock.json
FRONTEND_DIST := $(FRONTEND)/dist/index.html
FRONTEND_SRC := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json

.PHONY: run test lint format bench install frontend clean

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

install: $(STAMP) $(FRONTEND_DIST)

run: $(STAMP) $(FRONTEND_DIST)
	$(BIN)/stepwise run

test: $(STAMP) $(FRONTEND_DIST)
	$(BIN)/python -m pytest

lint: $(STAMP) $(FRONTEND_DEPS)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd $(FRONTEND) && npx --no-install tsc --noEmit

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info $(FRONTEND)/node_modules $(FRONTEND)/dist
