# `make run` and `make test` each build .venv on a fresh machine, then run the app or the tests.
PYTHON ?= python3
VENV ?= .venv
# The PyTorch build to install. The default is a CPU-friendly, tested release; for a CUDA build
# name the one you want, e.g. `make run TORCH_SPEC="torch==2.13.0" PIP_ARGS="--index-url ..."`.
TORCH_SPEC ?= torch==2.13.0
PIP_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint format bench clean

# The app's own environment; the tests add their tools (and ONNX export) on top.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/layerlab serve

test: lint
	$(BIN)/python -m pytest

lint: $(DEV_STAMP)
	$(BIN)/ruff check backend tests
	$(BIN)/ruff format --check backend tests
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff format backend tests
	$(BIN)/ruff check --fix backend tests

bench: $(STAMP)
	$(BIN)/layerlab bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache backend/*.egg-info
