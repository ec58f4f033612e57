"""The whole path with every real part: websocket -> Daphne -> Redis -> Celery worker -> back.

The stream a browser receives must be exactly what the engine generates in-process with
the same seed; stop and disconnect must stop the task; a dead worker must be reported.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time

import numpy as np
import pytest
import websockets

from tests.conftest import REDIS_PORT, TEST_TMP

from .stack import prepare_stack

pytestmark = pytest.mark.slow
PROMPT = "KING.\nWhat news from France?\n\n"


async def open_socket(stack):
    socket = await websockets.connect(stack.ws_url, origin=stack.http_url, max_size=2**24)
    hello = json.loads(await socket.recv())
    assert hello["type"] == "hello"
    return socket


async def receive_until_done(socket, timeout: float = 60) -> list[dict]:
    messages = []
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await socket.recv())
            messages.append(message)
            if message["type"] in ("done", "error"):
                return messages


def test_a_generation_streams_exactly_what_the_engine_generates(stack, bundled_lm):
    settings = dict(max_new_tokens=24, temperature=0.9, top_k=40, top_p=0.95, seed=7)

    async def run():
        socket = await open_socket(stack)
        await socket.send(
            json.dumps(
                {
                    "type": "generate",
                    "request_id": "e2e-1",
                    "prompt": PROMPT,
                    "model": "shakespeare",
                    "candidates": 5,
                    "attention": {"layers": "all", "heads": "all"},
                    **settings,
                }
            )
        )
        messages = await receive_until_done(socket)
        await socket.close()
        return messages

    messages = asyncio.run(run())
    types = [m["type"] for m in messages]
    assert types == ["queued", "prompt"] + ["step"] * 24 + ["done"], types
    assert all(m["request_id"] == "e2e-1" for m in messages)

    ids = bundled_lm.tokenizer.encode(PROMPT)
    expected = [e.token_id for e in bundled_lm.generate(ids, **settings) if e.type == "step"]
    steps = [m for m in messages if m["type"] == "step"]
    assert [s["token"]["id"] for s in steps] == expected

    prompt = messages[1]
    assert [t["id"] for t in prompt["tokens"]] == ids
    config = bundled_lm.config
    packed = base64.b64decode(prompt["attention"]["data"])
    assert len(packed) == config.n_layer * config.n_head * len(ids) * (len(ids) + 1) // 2
    last = steps[-1]
    row = np.frombuffer(base64.b64decode(last["attention"]["data"]), dtype=np.uint8)
    row = row.reshape(config.n_layer, config.n_head, -1) / 255.0
    assert row.shape[-1] == last["attention"]["query_position"] + 1 == len(ids) + 23
    assert np.allclose(row.sum(-1), 1.0, atol=0.05)
    assert len(last["candidates"]) == 5

    done = messages[-1]
    assert done["finish_reason"] == "length" and done["new_tokens"] == 24
    assert done["seed"] == 7 and done["tokens_per_second"] > 0


def test_stop_ends_a_long_generation_as_cancelled(stack):
    async def run():
        socket = await open_socket(stack)
        await socket.send(
            json.dumps(
                {
                    "type": "generate",
                    "prompt": PROMPT,
                    "max_new_tokens": 200,
                    "seed": 1,
                    "attention": {"layers": "all", "heads": "all"},
                }
            )
        )
        messages = []
        while True:
            message = json.loads(await socket.recv())
            messages.append(message)
            if message["type"] == "step":
                await socket.send(json.dumps({"type": "stop"}))
                break
        messages += await receive_until_done(socket)
        await socket.close()
        return messages

    messages = asyncio.run(run())
    done = messages[-1]
    assert done["type"] == "done" and done["finish_reason"] == "cancelled"
    assert done["new_tokens"] < 200


def test_closing_the_socket_stops_the_task(stack):
    async def run():
        socket = await open_socket(stack)
        await socket.send(
            json.dumps(
                {
                    "type": "generate",
                    "request_id": "leaver-1",
                    "prompt": PROMPT,
                    "max_new_tokens": 200,
                    "seed": 1,
                    "attention": {"layers": "all", "heads": "all"},
                }
            )
        )
        while json.loads(await socket.recv())["type"] != "step":
            pass
        await socket.close()

    asyncio.run(run())
    deadline = time.monotonic() + 20
    outcome = None
    while outcome is None and time.monotonic() < deadline:
        raw = stack.redis.get("glassbox:outcome:leaver-1")
        outcome = json.loads(raw) if raw else None
        time.sleep(0.05)
    assert outcome is not None, "the task never finished"
    assert outcome["finish_reason"] == "cancelled"
    assert outcome["new_tokens"] < 200


def test_bad_input_over_the_real_server_keeps_the_socket_usable(stack):
    async def run():
        socket = await open_socket(stack)
        await socket.send("not json")
        first = json.loads(await socket.recv())
        await socket.send(
            json.dumps({"type": "generate", "prompt": PROMPT, "max_new_tokens": 3, "seed": 2})
        )
        rest = await receive_until_done(socket)
        await socket.close()
        return first, rest

    first, rest = asyncio.run(run())
    assert first["code"] == "bad_json"
    assert rest[-1]["type"] == "done" and rest[-1]["new_tokens"] == 3


def test_a_dead_worker_is_reported_within_seconds(stack, models_dir):
    """Its own stack (Redis database 2), since this test kills the worker."""
    crash = prepare_stack(
        TEST_TMP / "crash",
        f"redis://127.0.0.1:{REDIS_PORT}/2",
        models_dir,
        database_from=stack.root / "db.sqlite3",
        GLASSBOX_WORKER_HEARTBEAT_TTL_S="3",
    )
    try:
        crash.start_worker()
        crash.start_web()
        crash.kill("worker")

        async def run():
            socket = await open_socket(crash)
            await socket.send(json.dumps({"type": "generate", "prompt": PROMPT}))
            started = time.monotonic()
            messages = await receive_until_done(socket, timeout=30)
            await socket.close()
            return messages, time.monotonic() - started

        messages, seconds = asyncio.run(run())
        error = messages[-1]
        assert error["type"] == "error"
        assert error["code"] in ("no_worker", "worker_lost")
        assert seconds < 10
    finally:
        crash.stop()


def test_an_idle_socket_stays_open_regression_redis_socket_timeout(stack):
    """redis-py 8's 5 s default socket timeout used to close idle websockets (1011)."""

    async def run():
        socket = await open_socket(stack)
        await asyncio.sleep(7)
        await socket.send(json.dumps({"type": "stop"}))
        reply = json.loads(await socket.recv())
        await socket.close()
        return reply

    assert asyncio.run(run())["code"] == "not_running"
