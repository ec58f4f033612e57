"""The worker side of a generation, as plain functions: failures in words, batching."""

from __future__ import annotations

import asyncio

import pytest
from channels.exceptions import ChannelFull

from inference import CheckpointError, GenerationError, SamplingError
from webapp.playground import replies, streaming
from webapp.playground.model_cache import ModelChanged


@pytest.mark.parametrize(
    "exc, code, words",
    [
        (ModelChanged("files changed"), "model_unavailable", "re-validate"),
        (CheckpointError("bad_weights", "x"), "model_unavailable", "could not be loaded"),
        (GenerationError("the prompt is empty"), "invalid_setting", "the prompt is empty"),
        (SamplingError("top_p must be"), "invalid_setting", "top_p"),
        (RuntimeError("CUDA out of memory"), "internal_error", "try again"),
    ],
)
def test_failures_become_a_code_and_a_sentence(exc, code, words):
    got_code, sentence = streaming.explain_failure(exc, {"model": "m", "request_id": "r"})
    assert got_code == code
    assert words in sentence
    assert "CUDA" not in sentence  # internals stay in the log


class RecordingLayer:
    """Stands in for the channel layer in this unit test only."""

    def __init__(self, full_after: int | None = None):
        self.sent: list[dict] = []
        self.full_after = full_after

    async def send(self, channel, message):
        if self.full_after is not None and len(self.sent) >= self.full_after:
            raise ChannelFull()
        self.sent.append(message)


def make_sender(layer) -> replies.BatchSender:
    sender = replies.BatchSender.__new__(replies.BatchSender)
    sender.layer, sender.reply_channel = layer, "reply"
    sender.pending, sender.last_sent, sender.client_gone = [], 0.0, False
    return sender


def test_steps_are_coalesced_and_urgent_messages_flush():
    layer = RecordingLayer()
    sender = make_sender(layer)

    async def run():
        await sender.add({"type": "prompt"}, urgent=True)
        for i in range(5):  # faster than the coalescing interval
            await sender.add({"type": "step", "index": i})
        await sender.add({"type": "done"}, urgent=True)

    asyncio.run(run())
    batches = [[m["type"] for m in batch["messages"]] for batch in layer.sent]
    assert batches[0] == ["prompt"]
    assert batches[-1][-1] == "done"
    assert sum(len(b) for b in batches) == 7 and len(batches) < 7


def test_a_channel_full_for_a_moment_loses_nothing(monkeypatch):
    monkeypatch.setattr(replies, "FULL_RETRY_S", 0.01)

    class BusyLayer(RecordingLayer):
        """Full for its first two sends (Daphne busy), then draining again."""

        refusals = 2

        async def send(self, channel, message):
            if self.refusals:
                self.refusals -= 1
                raise ChannelFull()
            self.sent.append(message)

    layer = BusyLayer()
    sender = make_sender(layer)

    async def run():
        await sender.add({"type": "prompt"}, urgent=True)
        await sender.add({"type": "done"}, urgent=True)

    asyncio.run(run())
    assert not sender.client_gone
    assert [m["type"] for batch in layer.sent for m in batch["messages"]] == ["prompt", "done"]


def test_a_channel_that_stays_full_means_the_client_is_gone(monkeypatch):
    monkeypatch.setattr(replies, "FULL_PATIENCE_S", 0.05)
    monkeypatch.setattr(replies, "FULL_RETRY_S", 0.01)
    sender = make_sender(RecordingLayer(full_after=1))

    async def run():
        await sender.add({"type": "prompt"}, urgent=True)
        await sender.add({"type": "step", "index": 0}, urgent=True)

    asyncio.run(run())
    assert sender.client_gone


def test_a_request_stopped_in_the_queue_still_gets_a_done_message():
    message = streaming.cancelled_before_start("r-5")
    assert message["type"] == "done" and message["request_id"] == "r-5"
    assert message["finish_reason"] == "cancelled" and message["new_tokens"] == 0
