"""Loaded as a pytest plugin (`-p tests.environment`) before Django reads its settings.

Settings come from the environment, so a private Redis port, database and model folder
are chosen here, before pytest-django imports webapp.settings.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


TEST_TMP = Path(tempfile.mkdtemp(prefix="glassbox-tests-"))
REDIS_PORT = free_port()
os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
os.environ["SQLITE_PATH"] = str(TEST_TMP / "db.sqlite3")
os.environ.setdefault("GLASSBOX_MODELS_DIR", str(REPO / "models"))
# OpenAI's encodings, fetched by `make tokenizers` (make test runs it first)
TOKENIZERS_DIR = Path(
    os.environ.setdefault("GLASSBOX_TOKENIZERS_DIR", str(REPO / "var" / "tokenizers"))
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
os.environ["DEBUG"] = "true"
