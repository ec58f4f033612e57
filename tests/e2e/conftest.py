"""End-to-end fixtures: the bundled model served by a real Redis, Celery worker and Daphne."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference import load_model
from tests.conftest import REDIS_PORT, REPO, TEST_TMP

from .stack import prepare_stack

CHROMIUM = Path("/usr/bin/chromium")
BUNDLED_MODEL = REPO / "models" / "shakespeare"


@pytest.fixture(scope="session")
def models_dir():
    if not (BUNDLED_MODEL / "model.safetensors").exists():
        pytest.skip("the bundled model is not in models/shakespeare")
    folder = TEST_TMP / "models"
    folder.mkdir(exist_ok=True)
    link = folder / "shakespeare"
    if not link.exists():
        link.symlink_to(BUNDLED_MODEL, target_is_directory=True)
    return folder


@pytest.fixture(scope="session")
def stack(redis_server, models_dir):
    """Daphne, the worker and the trainer on Redis database 1, as the Procfile starts them;
    shared by the tests that leave it running."""
    live = prepare_stack(TEST_TMP / "stack", f"redis://127.0.0.1:{REDIS_PORT}/1", models_dir)
    try:
        live.start_worker()
        live.start_worker("trainer")
        live.start_web()
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="session")
def bundled_lm(models_dir):
    return load_model(models_dir / "shakespeare")


@pytest.fixture(scope="module")  # per module: Playwright's loop must not outlive asyncio tests
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()
