"""Generations on a worker go through the model's batching engine: several at once give
each the tokens it gives alone, the ones beyond the batch size hear their place in line,
a stop reaches a waiting request, and an experiment still runs on its own.

Each generation runs as the Celery task runs it (`run_generation`, on its own thread, as
the worker's thread pool runs tasks) against the real channel layer (Redis)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer

import inference
from tests.factories import make_bundle
from webapp.catalog.storage import bundle_sha256
from webapp.playground import engines, model_cache, streaming
from webapp.playground.protocol import GenerateRequest

CONFIG = inference.GPTConfig(vocab_size=257, block_size=64, n_layer=2, n_head=2, n_embd=16)
PROMPTS = ["To be, or not", "My lord", "O Romeo, Romeo, wherefore"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("batched") / "m", seed=5, config=CONFIG)


@pytest.fixture(autouse=True)
def fresh_engines(redis_client, settings):
    settings.GLASSBOX = {**settings.GLASSBOX, "BATCH_SIZE": 2}
    engines.close_all()
    model_cache.clear()
    yield
    engines.close_all()
    model_cache.clear()


def request_for(bundle, request_id: str, **fields) -> dict:
    """A generate request as the consumer hands it to the worker."""
    base = {"type": "generate", "prompt": PROMPTS[0], "max_new_tokens": 12, "seed": 3}
    payload = GenerateRequest.model_validate({**base, **fields}).model_dump(mode="json")
    payload.update(
        request_id=request_id,
        cancel_id=f"generate-{request_id}",
        model="tiny",
        model_path=str(bundle),
        model_sha256=bundle_sha256(bundle),
        max_prompt_tokens=CONFIG.block_size,
    )
    return payload


def run_together(requests: list[dict]) -> dict[str, list[dict]]:
    """Run the tasks on threads at once; every message each one sent, in order."""
    layer = get_channel_layer()

    async def new_channels():
        return [await layer.new_channel() for _ in requests]

    channels = asyncio.run(new_channels())
    threads = [
        threading.Thread(target=streaming.run_generation, args=(request, channel))
        for request, channel in zip(requests, channels, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    async def drain(channel):
        messages = []
        while not messages or messages[-1]["type"] not in ("done", "error"):
            batch = await asyncio.wait_for(layer.receive(channel), timeout=10)
            messages.extend(batch["messages"])
        return messages

    async def drain_all():
        return [await drain(channel) for channel in channels]

    return {r["request_id"]: m for r, m in zip(requests, asyncio.run(drain_all()), strict=True)}


def alone(bundle, prompt: str, **settings) -> list[int]:
    """The tokens `lm.generate` writes for the prompt by itself."""
    lm = model_cache.get_model(bundle, bundle_sha256(bundle))
    events = lm.generate(lm.tokenizer.encode(prompt), n_candidates=10, **settings)
    return [e.token.id for e in events if e.type == "step"]


def token_ids(messages: list[dict]) -> list[int]:
    return [m["token"]["id"] for m in messages if m["type"] == "step"]


def test_generations_batched_together_write_what_they_write_alone(bundle):
    requests = [
        request_for(bundle, f"r{i}", prompt=prompt, seed=10 + i, temperature=0.9, top_k=20)
        for i, prompt in enumerate(PROMPTS)
    ]
    replies = run_together(requests)
    for request in requests:
        messages = replies[request["request_id"]]
        assert messages[-1]["type"] == "done", messages[-1]
        assert messages[-1]["finish_reason"] == "length"
        expected = alone(
            bundle,
            request["prompt"],
            max_new_tokens=12,
            seed=request["seed"],
            temperature=0.9,
            top_k=20,
        )
        assert token_ids(messages) == expected


def test_beyond_the_batch_size_a_request_hears_its_place_in_line(bundle):
    # three requests, two rows: at least one waits and is told it goes next
    requests = [request_for(bundle, f"q{i}", max_new_tokens=30) for i in range(3)]
    replies = run_together(requests)
    positions = [
        m["position"] for messages in replies.values() for m in messages if m["type"] == "queued"
    ]
    assert positions and all(p >= 1 for p in positions)
    assert 1 in positions
    for messages in replies.values():
        assert messages[-1]["type"] == "done" and len(token_ids(messages)) == 30


def test_a_stop_reaches_a_request_waiting_for_a_row(tmp_path):
    # a slower model than the others here, so the first request holds its row a while
    config = inference.GPTConfig(vocab_size=257, block_size=256, n_layer=4, n_head=4, n_embd=64)
    lm = inference.load_model(make_bundle(tmp_path / "slow", seed=1, config=config))
    server = inference.EngineThread(inference.BatchEngine(lm.model, lm.tokenizer, max_batch=1))
    try:
        ids = lm.tokenizer.encode("My lord")
        holder = server.submit(
            inference.BatchRequest(ids, max_new_tokens=200, seed=1, stop_at_end_of_text=False)
        )
        stop = threading.Event()
        request = {
            "request_id": "w",
            "cancel_id": "generate-w",
            "max_new_tokens": 200,
            "temperature": 0.8,
            "top_k": 0,
            "top_p": 1.0,
            "seed": 2,
            "candidates": 5,
        }
        events = streaming.batched_events(server, request, ids, None, stop.is_set)
        first = next(events)
        assert first.type == "queued" and first.position == 0  # it goes next
        stop.set()  # the student pressed stop while waiting
        rest = list(events)
        assert rest[-1].type == "done" and rest[-1].finish_reason == "cancelled"
        assert [e.type for e in rest[:-1]] == []  # it never ran: no prompt, no steps
        holder_events = list(holder.events(timeout=30))
        assert holder_events[-1].finish_reason == "length"  # the row's owner went on
    finally:
        server.close()


def test_an_experiment_runs_beside_the_batch(bundle):
    plain = request_for(bundle, "plain", temperature=0.0)
    ablated = request_for(
        bundle, "ablated", temperature=0.0, experiment={"ablate_heads": [[0, 0], [1, 1]]}
    )
    replies = run_together([plain, ablated])
    lm = model_cache.get_model(bundle, bundle_sha256(bundle))
    ids = lm.tokenizer.encode(PROMPTS[0])
    knocked = inference.Intervention(ablate_heads={(0, 0), (1, 1)})
    expected = [
        e.token.id
        for e in lm.generate(ids, max_new_tokens=12, temperature=0.0, intervention=knocked)
        if e.type == "step"
    ]
    assert token_ids(replies["ablated"]) == expected
    assert token_ids(replies["plain"]) == alone(
        bundle, PROMPTS[0], max_new_tokens=12, temperature=0.0
    )
