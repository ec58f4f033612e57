"""The websocket consumer: every bad input gets its own error and the connection survives.

These run the real ASGI application in-process (WebsocketCommunicator) against a real
Redis (channel layer, heartbeats, rate limits); no worker is needed to refuse a request.
"""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator

from tests.webapp.conftest import ready_record
from tests.webapp.websocket_clients import all_tasks
from webapp.asgi import application
from webapp.catalog.models import LanguageModel
from webapp.playground import signals

pytestmark = [pytest.mark.django_db(transaction=True)]
ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture
def model_record(db):
    return ready_record("tiny", is_default=True, max_new_tokens=50)


@pytest.fixture
def live_worker(redis_client):
    """A heartbeat as a running worker would write it (no task will be consumed)."""
    signals.beat(redis_client, "test-worker")
    return redis_client


@pytest.fixture
async def ws(redis_client, model_record):
    communicator = WebsocketCommunicator(application, "/ws/generate/", headers=[ORIGIN])
    connected, _ = await communicator.connect()
    assert connected
    hello = await communicator.receive_json_from()
    assert hello == {"type": "hello", "version": 1}
    yield communicator
    await communicator.disconnect()


async def ask(ws, message) -> dict:
    if isinstance(message, bytes):
        await ws.send_to(bytes_data=message)
    elif isinstance(message, str):
        await ws.send_to(text_data=message)
    else:
        await ws.send_json_to(message)
    return await ws.receive_json_from(timeout=5)


def generate(**fields):
    return {"type": "generate", "prompt": "To be", **fields}


def trace(**fields):
    return {"type": "trace", "prompt": "To be", **fields}


async def test_it_rejects_a_foreign_origin(redis_client, model_record):
    communicator = WebsocketCommunicator(
        application, "/ws/generate/", headers=[(b"origin", b"http://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert not connected


@pytest.mark.parametrize(
    "message, code, words",
    [
        ("{not json", "bad_json", "not valid JSON"),
        (b"\x00\x01binary", "binary_frame", "text frames"),
        ('{"type": "trace", "prompt": "' + "x" * 70_000 + '"}', "message_too_large", "64000"),
        ("[1, 2]", "bad_message", "JSON object"),
        ({"type": "dance"}, "unknown_type", "'dance'"),
        ({"prompt": "hi"}, "unknown_type", "None"),
        (generate(colour="red"), "unknown_field", "'colour'"),
        ({"type": "generate"}, "missing_field", "'prompt'"),
        (generate(version=2), "bad_version", "version 1"),
        (generate(prompt="   \n "), "empty_prompt", "empty"),
        (generate(prompt="x" * 4001), "prompt_too_long", "4001 characters"),
        (generate(temperature=7), "invalid_setting", "Temperature"),
        (generate(temperature="hot"), "invalid_setting", "Temperature"),
        (generate(top_p=0), "invalid_setting", "Top-p"),
        (generate(top_k=-3), "invalid_setting", "Top-k"),
        (generate(top_k=301), "invalid_setting", "300 tokens"),
        (generate(max_new_tokens=51), "invalid_setting", "at most 50"),
        (generate(max_new_tokens=0), "invalid_setting", "Max new tokens"),
        (generate(seed=-1), "invalid_setting", "seed"),
        (generate(candidates=21), "invalid_setting", "candidates"),
        (generate(attention={"layers": [5], "heads": "all"}), "invalid_setting", "layers 0 to 1"),
        (generate(attention={"layers": "all", "heads": [9]}), "invalid_setting", "heads 0 to 3"),
        (generate(attention="some"), "invalid_setting", "attention"),
        (generate(model="gpt-5"), "unknown_model", "'gpt-5'"),
        ({"type": "stop"}, "not_running", "no generation"),
        (generate(experiment={"ablate_heads": [[0, 4]]}), "invalid_setting", "no head 4"),
        (trace(prompt=""), "empty_prompt", "empty"),
        (trace(prompt="x" * 4001), "prompt_too_long", "4001 characters"),
        (trace(parts=["embeddings"]), "invalid_setting", "no part 'embeddings'"),
        (trace(parts=[]), "invalid_setting", "parts"),
        (trace(layers=[2]), "invalid_setting", "layers 0 to 1"),
        (trace(heads=[4]), "invalid_setting", "heads 0 to 3"),
        (trace(positions=[-1]), "invalid_setting", "positions"),
        (trace(top_k=51), "invalid_setting", "Top-k: input should be less than or equal to 50"),
        (trace(lens_token=300), "invalid_setting", "0 to 299"),
        (trace(experiment={"ablate_mlps": [7]}), "invalid_setting", "no layer 7"),
        (trace(experiment={"quantize_bits": 3}), "invalid_setting", "experiment (quantize_bits)"),
        (
            trace(experiment={"steer": {"layer": 3, "vector": {"kind": "token", "text": "a"}}}),
            "invalid_setting",
            "0 (the embeddings) to 2",
        ),
        (
            trace(experiment={"steer": {"layer": 1, "vector": {"kind": "colour"}}}),
            "invalid_setting",
            "experiment (steer.vector)",
        ),
        (trace(experiment={"dance": True}), "unknown_field", "'experiment.dance'"),
        (trace(model="gpt-5"), "unknown_model", "'gpt-5'"),
        (trace(parts=["neighbors"]), "invalid_setting", "no part 'neighbors'"),
        (trace(parts=["bigram", "dance"]), "invalid_setting", "the parts are token_embeddings"),
        (trace(analogy={"a": "k", "b": "m"}), "missing_field", "'analogy.c'"),
        (trace(analogy={"a": "", "b": "m", "c": "w"}), "invalid_setting", "analogy (a)"),
        (trace(analogy={"a": "k", "b": "m", "c": "w", "d": "q"}), "unknown_field", "analogy.d"),
    ],
)
async def test_it_rejects_bad_input_with_a_specific_error(ws, message, code, words):
    reply = await ask(ws, message)
    assert reply["type"] == "error"
    assert reply["code"] == code
    assert words.lower() in reply["message"].lower()
    # the connection stays usable: the next message is answered too
    assert (await ask(ws, {"type": "stop"}))["code"] == "not_running"


async def test_the_request_id_is_echoed_on_errors(ws):
    reply = await ask(ws, generate(request_id="abc-1", temperature=9))
    assert reply["request_id"] == "abc-1"


async def test_it_rejects_a_disabled_model(ws, model_record):
    model_record.enabled = False
    await model_record.asave()
    reply = await ask(ws, generate(model="tiny"))
    assert reply["code"] == "model_disabled"


async def test_it_rejects_a_model_that_failed_validation(ws, model_record):
    model_record.status = LanguageModel.Status.FAILED
    await model_record.asave()
    assert (await ask(ws, generate(model="tiny")))["code"] == "model_disabled"
    assert (await ask(ws, generate()))["message"] == "No model is available right now."


async def test_without_a_worker_it_says_so_at_once(ws):
    reply = await ask(ws, generate())
    assert reply["code"] == "no_worker"
    assert "worker" in reply["message"]


async def test_a_request_is_queued_when_a_worker_is_alive(ws, live_worker):
    reply = await ask(ws, generate(request_id="q1"))
    assert reply == {"type": "queued", "request_id": "q1", "model": "tiny"}


async def test_a_trace_is_queued_and_blocks_a_generation_until_it_ends(ws, live_worker):
    assert (await ask(ws, trace(request_id="t1", layers=[1])))["type"] == "queued"
    reply = await ask(ws, generate(request_id="g1"))
    assert (reply["code"], reply["request_id"]) == ("busy", "g1")


async def test_a_second_request_while_one_runs_is_refused(ws, live_worker):
    assert (await ask(ws, generate()))["type"] == "queued"
    reply = await ask(ws, generate(request_id="second"))
    assert reply["code"] == "busy"
    assert reply["request_id"] == "second"


async def test_stop_sets_the_cancel_flag_for_the_task(ws, live_worker):
    await ask(ws, generate(request_id="r9"))
    [task] = all_tasks(live_worker, "gpu")
    cancel_id = task["request"]["cancel_id"]
    assert task["request"]["request_id"] == "r9" and cancel_id != "r9"
    await ws.send_json_to({"type": "stop"})
    await ws.receive_nothing(timeout=0.3)
    assert signals.is_cancelled(live_worker, cancel_id)


async def test_one_client_s_stop_never_reaches_another_s_run_of_the_same_id(
    redis_client, model_record
):
    # lesson pages number their requests from lesson-1, so ids repeat across students
    signals.beat(redis_client, "test-worker")
    clients = []
    for _ in range(2):
        communicator = WebsocketCommunicator(application, "/ws/generate/", headers=[ORIGIN])
        await communicator.connect()
        await communicator.receive_json_from()
        assert (await ask(communicator, generate(request_id="lesson-1")))["type"] == "queued"
        clients.append(communicator)
    first, second = (task["request"]["cancel_id"] for task in all_tasks(redis_client, "gpu"))
    await clients[0].send_json_to({"type": "stop"})
    await clients[0].receive_nothing(timeout=0.3)
    assert signals.is_cancelled(redis_client, first)
    assert not signals.is_cancelled(redis_client, second)
    for communicator in clients:
        await communicator.disconnect()


async def test_closing_the_socket_cancels_the_generation(redis_client, model_record):
    signals.beat(redis_client, "test-worker")
    communicator = WebsocketCommunicator(application, "/ws/generate/", headers=[ORIGIN])
    await communicator.connect()
    await communicator.receive_json_from()
    await communicator.send_json_to(generate(request_id="leaver"))
    assert (await communicator.receive_json_from())["type"] == "queued"
    [task] = all_tasks(redis_client, "gpu")
    await communicator.disconnect()
    assert signals.is_cancelled(redis_client, task["request"]["cancel_id"])


async def test_rate_limit_per_client(redis_client, model_record, settings):
    settings.GLASSBOX = {**settings.GLASSBOX, "RATE_LIMIT_PER_MINUTE": 2}
    signals.beat(redis_client, "test-worker")
    replies = []
    for i in range(3):  # one connection each, as a student reloading the page would
        communicator = WebsocketCommunicator(application, "/ws/generate/", headers=[ORIGIN])
        await communicator.connect()
        await communicator.receive_json_from()
        replies.append(await ask(communicator, generate(request_id=f"r{i}")))
        await communicator.disconnect()
    assert [r["type"] for r in replies] == ["queued", "queued", "error"]
    assert replies[2]["code"] == "rate_limited"


async def test_traces_have_their_own_rate_limit(redis_client, model_record, settings):
    settings.GLASSBOX = {
        **settings.GLASSBOX,
        "RATE_LIMIT_PER_MINUTE": 1,
        "TRACE_RATE_LIMIT_PER_MINUTE": 2,
    }
    signals.beat(redis_client, "test-worker")
    replies = []
    for i, message in enumerate([generate(), trace(), trace(), trace()]):
        communicator = WebsocketCommunicator(application, "/ws/generate/", headers=[ORIGIN])
        await communicator.connect()
        await communicator.receive_json_from()
        replies.append(await ask(communicator, {**message, "request_id": f"r{i}"}))
        await communicator.disconnect()
    assert [r["type"] for r in replies] == ["queued", "queued", "queued", "error"]
    assert replies[3]["code"] == "rate_limited" and "traces" in replies[3]["message"]
