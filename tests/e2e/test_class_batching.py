"""A class at once through every real part (Daphne, Redis, the Procfile's threaded Celery
worker and its batching engine): twenty students asking together all get their tokens,
each exactly what the model writes for that seed alone; those beyond the batch hear their
place in line, counting down; a student who leaves mid-batch does not hold up the rest.

Its own stack with a batch of four rows, so that most of the class must wait in line."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from tests.conftest import REDIS_PORT, TEST_TMP

from .stack import prepare_stack

pytestmark = pytest.mark.slow
PROMPT = "KING.\nWhat news from France?\n\n"
CLASS = 20
TOKENS = 24


@pytest.fixture(scope="module")
def small_batch_stack(stack, models_dir):
    live = prepare_stack(
        TEST_TMP / "class",
        f"redis://127.0.0.1:{REDIS_PORT}/3",
        models_dir,
        database_from=stack.root / "db.sqlite3",
        GLASSBOX_BATCH_SIZE="4",
        GLASSBOX_RATE_LIMIT_PER_MINUTE="0",  # one address, no sessions: the whole class
    )
    try:
        live.start_worker()
        live.start_web()
        yield live
    finally:
        live.stop()


async def student(stack, index: int, leave_after: int | None = None) -> list[dict]:
    socket = await websockets.connect(stack.ws_url, origin=stack.http_url, max_size=2**24)
    assert json.loads(await socket.recv())["type"] == "hello"
    await socket.send(
        json.dumps(
            {
                "type": "generate",
                "request_id": f"student-{index}",
                "prompt": PROMPT,
                "max_new_tokens": TOKENS,
                "temperature": 0.9,
                "top_k": 40,
                "seed": 100 + index,
            }
        )
    )
    messages = []
    async with asyncio.timeout(120):
        while True:
            message = json.loads(await socket.recv())
            messages.append(message)
            steps = sum(m["type"] == "step" for m in messages)
            if leave_after is not None and steps >= leave_after:
                break  # the student closes the tab mid-generation
            if message["type"] in ("done", "error"):
                break
    await socket.close()
    return messages


def test_a_class_at_once_all_get_their_own_tokens_and_see_their_place(
    small_batch_stack, bundled_lm
):
    async def run():
        leaver = asyncio.create_task(student(small_batch_stack, 0, leave_after=2))
        rest = [student(small_batch_stack, i) for i in range(1, CLASS)]
        return [await leaver, *await asyncio.gather(*rest)]

    replies = asyncio.run(run())
    ids = bundled_lm.tokenizer.encode(PROMPT)
    heard_a_place = 0
    for index, messages in enumerate(replies[1:], start=1):
        assert messages[-1]["type"] == "done", messages[-1]
        steps = [m["token"]["id"] for m in messages if m["type"] == "step"]
        settings = dict(max_new_tokens=TOKENS, temperature=0.9, top_k=40, seed=100 + index)
        alone = [e.token_id for e in bundled_lm.generate(ids, **settings) if e.type == "step"]
        assert steps == alone
        assert messages[-1]["new_tokens"] == len(steps)
        positions = [m["position"] for m in messages if m["type"] == "queued" and "position" in m]
        assert positions == sorted(positions, reverse=True)  # the line only moves forward
        assert all(p >= 1 for p in positions)
        heard_a_place += bool(positions)
        # nothing but queued messages comes before the prompt
        first_prompt = next(i for i, m in enumerate(messages) if m["type"] == "prompt")
        assert {m["type"] for m in messages[:first_prompt]} == {"queued"}
    # four rows for twenty students: most of the class waited, and was told so
    assert heard_a_place >= CLASS // 2
    assert sum(m["type"] == "step" for m in replies[0]) >= 2
