# Two commands on a fresh machine: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest bench clean

# The venv is rebuilt when pyproject.toml changes; the stamp records which extras it holds.
# The test venv also holds the KerasHub plugin (plugins/zoo-keras-hub), so its tests run too.
PLUGIN := plugins/zoo-keras-hub
$(VENV)/.installed-test: pyproject.toml $(PLUGIN)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q -e ./$(PLUGIN)
	touch $@ $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[demo]'
	touch $@

demo: $(VENV)/.installed
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/zoo demo

test: $(VENV)/.installed-test lint typecheck pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check zoo tests bench plugins tools
	$(BIN)/ruff format --check zoo tests bench plugins tools

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy zoo tools
	$(BIN)/mypy --config-file $(PLUGIN)/pyproject.toml $(PLUGIN)/zoo_keras_hub

pytest: $(VENV)/.installed-test
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/pytest -n 2 --timeout 900 --durations=15 $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
