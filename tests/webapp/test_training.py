"""Lesson 13's `train` request at the consumer: validation, one run per student, the trainer.

As tests/webapp/test_consumer.py: the real ASGI application in-process against a real
Redis. Where a run must really happen, the trainer's own coroutine is run here on the
task the consumer queued, so the whole path (consumer, queue, trainer, channel layer,
consumer) is the one production uses, minus the Celery worker process.
"""

from __future__ import annotations

import pytest

from inference import mini_training
from tests.webapp.conftest import ready_record
from tests.webapp.websocket_clients import ask, connect, logged_in_session, new_session, newest_task
from webapp.playground import protocol, signals
from webapp.playground.consumers import TRAINING_RUNNING
from webapp.playground.training import stream_training

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def model_record(db):
    return ready_record("tiny", is_default=True)


@pytest.fixture
def trainer(redis_client, model_record):
    """A trainer's heartbeat (no task is consumed unless a test runs it)."""
    signals.beat(redis_client, "test-trainer", signals.TRAINERS_KEY)
    return redis_client


@pytest.fixture
async def session_key(db):
    return await new_session()


def train(**fields) -> dict:
    return {"type": "train", **fields}


def test_the_web_process_checks_the_trainers_own_bounds():
    assert protocol.TRAIN_MIN_TEXT_CHARS == mini_training.MIN_TEXT_CHARS
    assert protocol.TRAIN_MAX_TEXT_CHARS == mini_training.MAX_TEXT_CHARS
    assert (protocol.TRAIN_MIN_STEPS, protocol.TRAIN_MAX_STEPS) == (
        mini_training.MIN_STEPS,
        mini_training.MAX_STEPS,
    )
    assert mini_training.MiniTrainingConfig().steps == protocol.TRAIN_DEFAULT_STEPS
    assert set(protocol.TRAIN_SIZES) == set(mini_training.SIZES)


@pytest.mark.parametrize(
    "message, code, words",
    [
        (train(steps=5), "invalid_setting", "Steps: input should be greater than or equal to 20"),
        (train(steps=5000), "invalid_setting", "less than or equal to 1000"),
        (train(size="huge"), "invalid_setting", "Size"),
        (train(seed=-1), "invalid_setting", "seed"),
        (train(source="text"), "invalid_setting", "The training text is empty"),
        (train(source="text", text="  \n "), "invalid_setting", "The training text is empty"),
        (train(source="text", text="To be or not"), "invalid_setting", "at least 200"),
        (train(source="text", text="x" * 20_001), "invalid_setting", "at most 20000"),
        (train(text="x" * 300), "invalid_setting", "only with source 'text'"),
        (train(source="book"), "invalid_setting", "The text source"),
        (train(lr=1), "unknown_field", "'lr'"),
    ],
)
async def test_bad_training_requests_get_a_clear_error(trainer, message, code, words):
    ws = await connect()
    reply = await ask(ws, {**message, "request_id": "t1"})
    assert (reply["type"], reply["code"], reply["request_id"]) == ("error", code, "t1")
    assert words in reply["message"]
    await ws.disconnect()


async def test_without_a_trainer_it_says_so_even_with_a_model_worker(redis_client, model_record):
    signals.beat(redis_client, "test-worker")  # the playground's worker does not train
    ws = await connect()
    reply = await ask(ws, train())
    assert reply["code"] == "no_trainer" and "trainer" in reply["message"]
    await ws.disconnect()


async def test_a_run_goes_to_the_cpu_queue_with_the_students_identity(trainer, session_key):
    ws = await connect(session_key)
    reply = await ask(ws, train(request_id="r1", steps=40, seed=7))
    assert reply == {"type": "queued", "request_id": "r1", "model": None}
    task = newest_task(trainer, "cpu")
    assert task["request"]["identity"] == f"session:{session_key}"
    assert (task["request"]["steps"], task["request"]["seed"]) == (40, 7)
    assert trainer.llen("gpu") == 0
    # a trainer that crashes never frees the claim: it expires
    ttl = trainer.ttl(signals.training_key(f"session:{session_key}"))
    assert 0 < ttl <= signals.training_claim_ttl_s()
    await ws.disconnect()


async def test_a_second_run_from_the_same_browser_is_refused_while_one_runs(trainer, session_key):
    first, second = await connect(session_key), await connect(session_key)  # two tabs
    assert (await ask(first, train(request_id="a")))["type"] == "queued"
    reply = await ask(second, train(request_id="b"))
    assert (reply["code"], reply["message"], reply["request_id"]) == (
        "training_running",
        TRAINING_RUNNING,
        "b",
    )
    # ... and in the same tab too
    reply = await ask(first, train(request_id="c"))
    assert (reply["code"], reply["message"]) == ("training_running", TRAINING_RUNNING)
    # another student (another session) is not held up by this one
    other = await connect()
    assert (await ask(other, train(request_id="d")))["type"] == "queued"
    for ws in (first, second, other):
        await ws.disconnect()


async def test_stop_cancels_the_run_and_closing_the_tab_frees_the_claim(trainer, session_key):
    ws = await connect(session_key)
    await ask(ws, train(request_id="s1"))
    cancel_id = newest_task(trainer, "cpu")["request"]["cancel_id"]
    await ws.send_json_to({"type": "stop"})
    await ws.receive_nothing(timeout=0.3)
    assert signals.is_cancelled(trainer, cancel_id)
    await ws.disconnect()
    again = await connect(session_key)
    assert (await ask(again, train(request_id="s2")))["type"] == "queued"
    await again.disconnect()


async def test_a_run_streams_to_the_end_and_then_the_student_may_start_another(
    trainer, session_key
):
    ws = await connect(session_key)
    await ask(ws, train(request_id="live", steps=20, size="tiny"))
    task = newest_task(trainer, "cpu")
    await stream_training(task["request"], task["reply_channel"])
    messages = []
    while not messages or messages[-1]["type"] != "train_done":
        messages.append(await ws.receive_json_from(timeout=10))
    started, progress, done = messages[0], messages[1:-1], messages[-1]
    assert started["type"] == "train_started" and started["steps"] == 20
    assert [m["step"] for m in progress] == list(range(1, 21))
    assert all(m["type"] == "train_progress" and m["request_id"] == "live" for m in progress)
    assert progress[0]["loss"] == pytest.approx(started["uniform_loss"], abs=0.3)
    assert (done["finish_reason"], done["steps"], done["final_loss"]) == (
        "finished",
        20,
        progress[-1]["loss"],
    )
    assert (await ask(ws, train(request_id="next")))["type"] == "queued"
    await ws.disconnect()


async def test_a_run_stopped_while_it_waited_ends_at_once(trainer, session_key):
    ws = await connect(session_key)
    await ask(ws, train(request_id="early"))
    await ws.send_json_to({"type": "stop"})
    await ws.receive_nothing(timeout=0.2)
    task = newest_task(trainer, "cpu")
    await stream_training(task["request"], task["reply_channel"])
    done = await ws.receive_json_from(timeout=5)
    assert (done["type"], done["finish_reason"], done["steps"]) == ("train_done", "cancelled", 0)
    await ws.disconnect()


async def test_one_students_stop_never_reaches_another_students_run_of_the_same_id(trainer):
    # every lesson page numbers its requests from lesson-1, so ids repeat across students
    alice, bob = await connect(await new_session()), await connect(await new_session())
    for ws in (alice, bob):
        assert (await ask(ws, train(request_id="lesson-2")))["type"] == "queued"
    bobs = newest_task(trainer, "cpu")["request"]["cancel_id"]  # LPUSH: the last one queued
    alices = newest_task(trainer, "cpu")["request"]["cancel_id"]
    await alice.send_json_to({"type": "stop"})
    await alice.receive_nothing(timeout=0.3)
    assert signals.is_cancelled(trainer, alices)
    assert not signals.is_cancelled(trainer, bobs)
    for ws in (alice, bob):
        await ws.disconnect()


async def test_a_logged_in_student_is_one_student_in_every_browser(trainer):
    laptop = await connect(await logged_in_session("ada"))
    phone = await connect(await logged_in_session("ada"))  # another browser, same user
    assert (await ask(laptop, train(request_id="l1")))["type"] == "queued"
    assert (await ask(phone, train(request_id="p1")))["code"] == "training_running"
    someone_else = await connect(await logged_in_session("grace"))
    assert (await ask(someone_else, train(request_id="g1")))["type"] == "queued"
    for ws in (laptop, phone, someone_else):
        await ws.disconnect()


def test_the_lesson_page_gives_every_browser_a_session(client, model_record):
    first = client.get("/lessons/training/")
    assert first.status_code == 200
    key = first.cookies["sessionid"].value
    assert key
    client.get("/lessons/training/")
    assert client.cookies["sessionid"].value == key  # kept, not renewed on every page
