# Glassbox: `make run` serves the app, `make test` installs and runs every test.
# Everything a test needs is installed from here (pip into .venv; apt packages later).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint bench inspect clean

# pip only re-runs when a requirements file changes
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install
	$(PY) -m inference.bench

run: install
	@echo "Glassbox web app: not yet built (see the playground issue)."
	@echo "What 'make run' will start: Redis, one Celery worker (queue gpu) and Daphne on http://127.0.0.1:8000"
	@echo "Until then, the engine runs from the command line:"
	@echo "  $(PY) -m inference inspect MODEL_DIR"
	@echo "  $(PY) -m inference generate MODEL_DIR \"To be, or not to be\""

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
