"""Test-wide fixtures: a real Redis server on loopback for the whole run."""

from __future__ import annotations

import subprocess
import time

import pytest
import redis

from tests.environment import REDIS_PORT, REPO, TEST_TMP, free_port

__all__ = ["REDIS_PORT", "REPO", "TEST_TMP", "free_port"]


@pytest.fixture(scope="session")
def redis_server():
    """A throw-away redis-server for the whole run (no persistence)."""
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(TEST_TMP),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    client = redis.Redis(port=REDIS_PORT)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    else:
        process.kill()
        raise RuntimeError("redis-server did not start")
    yield client
    process.terminate()
    process.wait(timeout=10)
