"""Fair limits at the consumer: per-student rate limits, the per-address outer bound, and
one running generation or trace per student across all their tabs.

As tests/webapp/test_consumer.py: the real ASGI application in-process against a real
Redis. Every connection comes from the same address (the test client's 127.0.0.1), as a
class behind one school router does; sessions are real Django sessions, as the pages give
every browser. Where a request must end, the worker's `done` is sent to the consumer over
the channel layer, the path a worker's replies take.
"""

from __future__ import annotations

import pytest
from channels.layers import get_channel_layer

from tests.webapp.conftest import ready_record
from tests.webapp.websocket_clients import ask, connect, logged_in_session, new_session, newest_task
from webapp.playground import signals
from webapp.playground.consumers import RUNNING_ELSEWHERE

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(redis_client, db):
    """A default model and a worker's heartbeat (no task is consumed)."""
    ready_record("tiny", is_default=True, max_new_tokens=50)
    signals.beat(redis_client, "test-worker")
    return redis_client


@pytest.fixture(autouse=True)
def one_minute(monkeypatch):
    """Hold the rate-limit clock still inside one window, so that no test straddles the
    turn of a minute (where every count starts again)."""
    import time

    still = (time.time() // 60) * 60 + 0.5
    monkeypatch.setattr(signals, "rate_clock", lambda: still)
    return still


@pytest.fixture
def limits(settings):
    """Set some of the four per-minute limits, the rest staying at their defaults."""

    def apply(**values):
        settings.GLASSBOX = {**settings.GLASSBOX, **values}

    return apply


def generate(request_id: str) -> dict:
    return {"type": "generate", "prompt": "To be", "request_id": request_id}


def trace(request_id: str) -> dict:
    return {"type": "trace", "prompt": "To be", "request_id": request_id}


async def finish(ws, redis_client, request_id: str) -> None:
    """Answer the queued request with the worker's `done`, as a worker would (and beat,
    as it does, so that a long test never outlives the heartbeat)."""
    signals.beat(redis_client, "test-worker")
    task = newest_task(redis_client, "gpu")
    assert task["request"]["request_id"] == request_id
    done = {"type": "done", "request_id": request_id, "finish_reason": "length"}
    await get_channel_layer().send(
        task["reply_channel"], {"type": "generation.batch", "messages": [done]}
    )
    assert (await ws.receive_json_from(timeout=5))["type"] == "done"


async def run_one(ws, redis_client, message: dict) -> dict:
    """Ask; if queued, end it at once. The reply to the ask."""
    reply = await ask(ws, message)
    if reply["type"] == "queued":
        await finish(ws, redis_client, message["request_id"])
    return reply


async def test_a_class_of_40_behind_one_address_each_gets_its_own_quota(worker, settings):
    per_student = settings.GLASSBOX["RATE_LIMIT_PER_MINUTE"]  # the defaults throughout
    assert settings.GLASSBOX["ADDRESS_RATE_LIMIT_PER_MINUTE"] >= 40 * per_student
    students = [await connect(await new_session()) for _ in range(40)]
    for n in range(per_student):
        for i, ws in enumerate(students):
            reply = await run_one(ws, worker, generate(f"s{i}-{n}"))
            assert reply["type"] == "queued", reply
    # each is then held to their own limit, not by the others' use of the address
    for ws in students:
        reply = await ask(ws, generate("one-more"))
        assert reply["code"] == "rate_limited"
        assert "the most one student may" in reply["message"]
    for ws in students:
        await ws.disconnect()


async def test_the_class_s_traces_fit_under_the_address_bound_too(settings):
    glassbox = settings.GLASSBOX
    assert glassbox["ADDRESS_TRACE_RATE_LIMIT_PER_MINUTE"] >= (
        40 * glassbox["TRACE_RATE_LIMIT_PER_MINUTE"]
    )


async def test_one_student_over_quota_is_refused_and_a_classmate_is_not(worker, limits):
    limits(RATE_LIMIT_PER_MINUTE=2)
    alice, bob = await connect(await new_session()), await connect(await new_session())
    for n in range(2):
        assert (await run_one(alice, worker, generate(f"a{n}")))["type"] == "queued"
    refused = await ask(alice, generate("a2"))
    assert (refused["code"], refused["request_id"]) == ("rate_limited", "a2")
    assert "2 generations this minute, the most one student may" in refused["message"]
    assert refused["message"].endswith("try again in 60 seconds.")  # the window's end
    # the classmate at the next desk, same address, is not held up
    assert (await run_one(bob, worker, generate("b0")))["type"] == "queued"
    for ws in (alice, bob):
        await ws.disconnect()


async def test_every_tab_of_a_browser_shares_its_quota(worker, limits):
    limits(RATE_LIMIT_PER_MINUTE=2)
    key = await new_session()
    first, second = await connect(key), await connect(key)
    assert (await run_one(first, worker, generate("t1")))["type"] == "queued"
    assert (await run_one(second, worker, generate("t2")))["type"] == "queued"
    assert (await ask(second, generate("t3")))["code"] == "rate_limited"
    for ws in (first, second):
        await ws.disconnect()


async def test_a_logged_in_user_is_one_student_in_every_browser(worker, limits):
    limits(RATE_LIMIT_PER_MINUTE=2)
    laptop = await connect(await logged_in_session("ada"))
    phone = await connect(await logged_in_session("ada"))  # another browser, same user
    # one slot between them ...
    assert (await ask(laptop, generate("l1")))["type"] == "queued"
    busy = await ask(phone, generate("p1"))
    assert (busy["code"], busy["message"]) == ("busy", RUNNING_ELSEWHERE)
    await finish(laptop, worker, "l1")
    # ... and one quota
    assert (await run_one(phone, worker, generate("p2")))["type"] == "queued"
    assert (await ask(laptop, generate("l2")))["code"] == "rate_limited"
    grace = await connect(await logged_in_session("grace"))
    assert (await run_one(grace, worker, generate("g1")))["type"] == "queued"
    for ws in (laptop, phone, grace):
        await ws.disconnect()


async def test_the_outer_bound_refuses_a_flood_from_one_address_without_sessions(worker, limits):
    limits(RATE_LIMIT_PER_MINUTE=0, ADDRESS_RATE_LIMIT_PER_MINUTE=5)
    replies = []
    for n in range(7):  # a script: a fresh socket each time, no cookie
        ws = await connect()
        replies.append(await ask(ws, generate(f"f{n}")))
        await ws.disconnect()
    assert [r["type"] for r in replies] == ["queued"] * 5 + ["error"] * 2
    refused = replies[5]
    assert refused["code"] == "rate_limited"
    assert "Your network address has sent 5 generations this minute" in refused["message"]
    assert "try again in" in refused["message"]


async def test_made_up_session_cookies_count_as_the_address(worker, limits):
    # a cookie naming no stored session mints no identity: the client is its address
    limits(RATE_LIMIT_PER_MINUTE=2)
    replies = []
    for n in range(3):
        ws = await connect(f"madeup{n:04d}xxxxxxxxxxxxxxxxxxxx")
        replies.append(await ask(ws, generate(f"m{n}")))
        await ws.disconnect()
    assert [r["type"] for r in replies] == ["queued", "queued", "error"]
    assert replies[2]["code"] == "rate_limited"


async def test_the_outer_bound_holds_for_fresh_sessions_too(worker, limits):
    limits(ADDRESS_RATE_LIMIT_PER_MINUTE=3)
    replies = []
    for n in range(4):  # four browsers, one request each
        ws = await connect(await new_session())
        replies.append(await ask(ws, generate(f"n{n}")))
        await ws.disconnect()
    assert [r["type"] for r in replies] == ["queued"] * 3 + ["error"]
    assert "network address" in replies[3]["message"]


async def test_a_refused_request_spends_nothing(worker, limits):
    # one student hammering at their own limit must not use up the class's address bound
    limits(RATE_LIMIT_PER_MINUTE=1, ADDRESS_RATE_LIMIT_PER_MINUTE=3)
    hammer = await connect(await new_session())
    assert (await run_one(hammer, worker, generate("h0")))["type"] == "queued"
    for n in range(5):
        assert (await ask(hammer, generate(f"h{n + 1}")))["code"] == "rate_limited"
    classmates = [await connect(await new_session()) for _ in range(3)]
    replies = [await run_one(ws, worker, generate(f"c{i}")) for i, ws in enumerate(classmates)]
    assert [r["type"] for r in replies] == ["queued", "queued", "error"]  # h0 + 2 = 3
    assert "network address" in replies[2]["message"]
    for ws in (hammer, *classmates):
        await ws.disconnect()


async def test_traces_are_counted_apart_from_generations(worker, limits):
    limits(RATE_LIMIT_PER_MINUTE=1, TRACE_RATE_LIMIT_PER_MINUTE=2)
    ws = await connect(await new_session())
    assert (await run_one(ws, worker, generate("g0")))["type"] == "queued"
    assert (await ask(ws, generate("g1")))["code"] == "rate_limited"
    for n in range(2):
        assert (await run_one(ws, worker, trace(f"t{n}")))["type"] == "queued"
    refused = await ask(ws, trace("t2"))
    assert refused["code"] == "rate_limited"
    assert "2 traces this minute, the most one student may" in refused["message"]
    await ws.disconnect()


async def test_one_running_request_per_student_across_tabs(worker):
    key = await new_session()
    first, second = await connect(key), await connect(key)
    assert (await ask(first, trace("lesson-1")))["type"] == "queued"
    for message in (generate("lesson-2"), trace("lesson-3")):
        busy = await ask(second, message)
        assert (busy["code"], busy["request_id"]) == ("busy", message["request_id"])
        assert busy["message"] == RUNNING_ELSEWHERE
    # a classmate is not held up
    other = await connect(await new_session())
    assert (await ask(other, generate("lesson-1")))["type"] == "queued"
    newest_task(worker, "gpu")  # the classmate's
    # the slot is free as soon as the first tab's request is done
    await finish(first, worker, "lesson-1")
    assert (await ask(second, generate("lesson-4")))["type"] == "queued"
    # ... and while the second tab runs, the first one waits its turn
    assert (await ask(first, trace("lesson-5")))["code"] == "busy"
    for ws in (first, second, other):
        await ws.disconnect()


async def test_closing_the_tab_frees_the_slot(worker):
    key = await new_session()
    first, second = await connect(key), await connect(key)
    assert (await ask(first, generate("g1")))["type"] == "queued"
    task = newest_task(worker, "gpu")
    assert (await ask(second, generate("g2")))["code"] == "busy"
    await first.disconnect()
    assert signals.is_cancelled(worker, task["request"]["cancel_id"])
    assert (await ask(second, generate("g3")))["type"] == "queued"
    await second.disconnect()


async def test_a_refused_request_does_not_keep_the_slot(worker, limits):
    limits(RATE_LIMIT_PER_MINUTE=1)
    key = await new_session()
    first, second = await connect(key), await connect(key)
    assert (await run_one(first, worker, generate("a")))["type"] == "queued"
    assert (await ask(first, generate("b")))["code"] == "rate_limited"
    # the refusal released its claim: a trace (its own quota) from the other tab runs
    assert (await ask(second, trace("c")))["type"] == "queued"
    for ws in (first, second):
        await ws.disconnect()


async def test_the_slot_expires_if_the_web_process_dies_holding_it(worker):
    key = await new_session()
    ws = await connect(key)
    assert (await ask(ws, generate("g1")))["type"] == "queued"
    ttl = worker.ttl(signals.claim_key("running", f"session:{key}"))
    assert 0 < ttl <= signals.running_claim_ttl_s()
    await ws.disconnect()


async def test_clients_without_a_session_are_not_held_to_one_slot_together(worker):
    # they share the address, which stands for a whole class: one request per socket
    first, second = await connect(), await connect()
    assert (await ask(first, generate("x1")))["type"] == "queued"
    assert (await ask(second, generate("x2")))["type"] == "queued"
    assert (await ask(first, generate("x3")))["code"] == "busy"  # the socket's own rule
    for ws in (first, second):
        await ws.disconnect()


async def test_zero_turns_every_rate_limit_off(worker, limits):
    limits(
        RATE_LIMIT_PER_MINUTE=0,
        TRACE_RATE_LIMIT_PER_MINUTE=0,
        ADDRESS_RATE_LIMIT_PER_MINUTE=0,
        ADDRESS_TRACE_RATE_LIMIT_PER_MINUTE=0,
    )
    ws = await connect(await new_session())
    for n in range(40):
        assert (await run_one(ws, worker, generate(f"g{n}")))["type"] == "queued"
        assert (await run_one(ws, worker, trace(f"t{n}")))["type"] == "queued"
    assert not worker.keys("glassbox:*rate*")  # nothing is even counted
    await ws.disconnect()


@pytest.mark.parametrize("path", ["/playground/", "/playground/inside/"])
def test_the_playground_pages_give_every_browser_a_session(client, worker, path):
    first = client.get(path)
    assert first.status_code == 200
    key = first.cookies["sessionid"].value
    assert key
    client.get(path)
    assert client.cookies["sessionid"].value == key  # kept, not renewed on every page
