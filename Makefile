# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest bench clean

# The venv is rebuilt when pyproject.toml changes; the stamp records which extras it holds.
$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

demo: $(VENV)/.installed
	TF_CPP_MIN_LOG_LEVEL=2 $(BIN)/zoo demo

test: $(VENV)/.installed-test lint typecheck pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check zoo tests bench
	$(BIN)/ruff format --check zoo tests bench

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy zoo

pytest: $(VENV)/.installed-test
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/pytest -n 2 --timeout 900 $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
