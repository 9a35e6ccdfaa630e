# Two commands for a newcomer: `make demo` runs a full campaign, `make test` runs every check.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The locks (every dependency pinned, with hashes): requirements.lock for the image,
# requirements-test.lock (with the test extras) for the venv here and CI. `make lock` writes
# them from pyproject.toml, keeping every pin that still fits; `make lock-check` fails if
# pyproject.toml asks for something they do not hold.
LOCKS     := requirements.lock requirements-test.lock
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --quiet \
             --custom-compile-command "make lock"

# `make floors`: a second venv with the lowest versions pyproject.toml allows for each direct
# dependency, and the unit tests that need no database in it (CI runs it after `make test`).
FLOORS      := .venv-floors
FLOOR_TESTS := tests/pacing tests/foundation tests/gateway tests/sim tests/deploy \
               tests/test_layers.py tests/api/test_bodies.py

.PHONY: test demo lint typecheck unit serve clean lock lock-check floors

$(STAMP): pyproject.toml requirements-test.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-test.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	@# byte-compile the project once: with PYTHONDONTWRITEBYTECODE set (CI machines) every
	@# process, each gateway a test or bench starts included, compiled it again (0.8 s CPU)
	$(BIN)/python -m compileall -q -j 0 gateway pacing control_api asterisk_sim bench dialer > /dev/null
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/dialer demo

serve: $(STAMP)
	$(BIN)/dialer serve

# uv writes the locks; it needs no installed project (so a stale lock can be rewritten).
$(BIN)/uv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.5,<1'

lock: $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test $(LOCK_ARGS) -o requirements-test.lock

lock-check: $(BIN)/uv
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && cp $(LOCKS) "$$tmp"/ && \
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) -o "$$tmp/requirements.lock" && \
	$(BIN)/uv pip compile pyproject.toml --extra test $(LOCK_ARGS) \
	  -o "$$tmp/requirements-test.lock" && \
	for f in $(LOCKS); do diff -u "$$f" "$$tmp/$$f" || \
	  { echo "lock-check: $$f is out of date with pyproject.toml: run make lock"; exit 1; }; done
	@echo "lock-check: $(LOCKS) match pyproject.toml"

floors: $(BIN)/uv
	rm -rf $(FLOORS)
	$(PYTHON) -m venv $(FLOORS)
	$(BIN)/uv pip install --quiet --python $(FLOORS)/bin/python --resolution lowest-direct \
	  -e '.[test]'
	$(FLOORS)/bin/pytest -q -p no:cacheprovider -m "not db and not asterisk and not slow" \
	  $(FLOOR_TESTS)

clean:
	rm -rf $(VENV) $(FLOORS) .mypy_cache .ruff_cache .pytest_cache
