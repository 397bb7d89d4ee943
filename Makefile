# Robson — two commands: `make run` and `make test`. Both set everything up first.
# Every other command is `./robson …` (the launcher at the root: no PATH set-up needed).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: setup run demo test bench lint schemas helm-lint reset clean

# A new .venv goes on the fastest CPython 3.11/3.12 build found (tools/pick_python.py; set
# PYTHON_FOR_VENV to choose). --compile-bytecode: dependencies' .pyc files are written once
# here, so a service starts in ~1 s instead of ~3 s even where PYTHONDONTWRITEBYTECODE is set.
setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet --break-system-packages uv
	@venv_python="$$(UV="$(UV)" $(PYTHON) tools/pick_python.py)"; \
	$(UV) sync --all-packages --all-extras --frozen --quiet --compile-bytecode $${venv_python:+--python "$$venv_python"}

run: setup
	@./robson up $(ARGS)

# The endless paper-trading demo without Binance: a synthetic market on the wall clock.
demo: setup
	@./robson up --feed synthetic --speed 1 $(ARGS)

# Wipe trading state (positions, orders, balances, clocks); keeps .venv and downloaded data.
reset: setup
	@./robson reset --yes

test: setup
	@UV="$(UV)" tools/test_all.sh $(ARGS)

bench: setup
	@$(UV) run --frozen python -m bench $(ARGS)

lint: setup
	@$(UV) run --frozen ruff check .

schemas: setup
	@$(UV) run --frozen python -m robson_contracts.schema_gen

helm-lint:
	@PYTHON="$(PYTHON)" tools/helm_lint.sh

# Everything, the virtualenv and downloaded market data included (`make reset` keeps them).
clean:
	rm -rf .data .venv .pytest_cache .ruff_cache
