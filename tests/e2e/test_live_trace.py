"""`trace` over every real part: websocket -> Daphne -> Redis -> Celery worker -> back.

The numbers a browser receives must be the engine's own for the bundled model; an
experiment must report before and after; a request that cannot be served must be
refused in words while the socket stays usable.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import torch

from inference import Intervention
from webapp.playground.trace_protocol import decode_tensor

from .test_live_generation import open_socket

pytestmark = pytest.mark.slow
PROMPT = "ROMEO:\nBut soft, what light through yonder window breaks?"


async def ask(socket, message: dict, timeout: float = 60) -> list[dict]:
    """Send one request; every message up to its trace_result or error."""
    await socket.send(json.dumps(message))
    messages = []
    async with asyncio.timeout(timeout):
        while True:
            reply = json.loads(await socket.recv())
            messages.append(reply)
            if reply["type"] in ("trace_result", "error"):
                return messages


def test_a_trace_over_the_stack_carries_the_engine_s_tensors(stack, bundled_lm):
    request = {"type": "trace", "request_id": "t-1", "prompt": PROMPT, "parts": "all"}
    ablation = {"ablate_heads": [[3, 0], [3, 1], [3, 2]], "ablate_mlps": [3]}

    async def run():
        socket = await open_socket(stack)
        full = await ask(socket, {**request, "layers": [3]})
        changed = await ask(
            socket, {**request, "request_id": "t-2", "parts": ["logits"], "experiment": ablation}
        )
        await socket.close()
        return full, changed

    full, changed = asyncio.run(run())
    assert [m["type"] for m in full] == ["queued", "trace_result"]
    reply = full[-1]
    ids = bundled_lm.tokenizer.encode(PROMPT)
    want = bundled_lm.trace(ids, "all", layers=[3])
    assert [t["id"] for t in reply["tokens"]] == ids
    for part in ("residuals", "k", "scores", "attention", "mlp_out"):
        got = decode_tensor(reply["tensors"][part])
        np.testing.assert_allclose(got, getattr(want, part).numpy(), atol=2e-2, rtol=2e-3)
    assert reply["logit_lens"]["top_ids"] == want.logit_lens.top_ids.tolist()
    np.testing.assert_array_equal(decode_tensor(reply["logits"]["last"]), want.logits[-1].numpy())

    result = changed[-1]
    assert result["type"] == "trace_result", result
    expected = bundled_lm.trace(
        ids,
        ["logits"],
        intervention=Intervention(
            ablate_heads=frozenset({(3, 0), (3, 1), (3, 2)}), ablate_mlps=frozenset({3})
        ),
    ).comparison
    experiment = result["experiment"]
    assert [c["id"] for c in experiment["before"]] == expected.before_ids
    assert [c["id"] for c in experiment["after"]] == expected.after_ids
    assert experiment["kl_bits"] == pytest.approx(expected.kl_bits, rel=1e-3, abs=1e-6)
    plain_top = int(torch.argmax(want.logits[-1]))
    assert experiment["before"][0]["id"] == plain_top


def test_the_embedding_and_bigram_parts_come_over_the_stack(stack, bundled_lm):
    request = {
        "type": "trace",
        "request_id": "t-3",
        "prompt": "My lord, the king",
        "parts": ["neighbours", "embedding_map", "position_table", "bigram"],
        "top_k": 5,
        "analogy": {"a": " king", "b": " man", "c": " woman"},
    }

    async def run():
        socket = await open_socket(stack)
        answer = await ask(socket, request)
        refused = await ask(socket, {**request, "analogy": {"a": "kingdoms", "b": "x", "c": "y"}})
        await socket.close()
        return answer, refused

    answer, refused = asyncio.run(run())
    reply = answer[-1]
    assert reply["type"] == "trace_result", reply
    ids = bundled_lm.tokenizer.encode(request["prompt"])
    space = bundled_lm.embedding_space()
    assert reply["neighbours"]["ids"] == space.neighbours(ids, 5)[0].tolist()
    without = [r["text"] for r in reply["analogy"]["without_inputs"]][:3]
    assert without == [" foe", " traitor", " prince"]  # not " queen" (SYLLABUS L4)
    wpe = bundled_lm.model.transformer.wpe.weight.detach().numpy()
    np.testing.assert_allclose(
        decode_tensor(reply["tensors"]["position_table"]), wpe, atol=1e-3, rtol=1e-3
    )
    assert {p["kind"] for p in reply["embedding_map"]["points"]} == {
        "prompt",
        "neighbour",
        "analogy",
    }
    bigram = reply["bigram"]
    assert bigram["token"] == ids[-1] and bigram["ids"] == bundled_lm.bigram.after(ids[-1], 5)[0]
    assert bigram["card"]["bigram_val_loss"] == bundled_lm.card["loss"]["bigram_val_loss"]
    assert refused[-1]["code"] == "invalid_setting"
    pieces = len(bundled_lm.tokenizer.encode("kingdoms"))
    assert f"a = 'kingdoms' is {pieces} tokens" in refused[-1]["message"], refused[-1]


def test_a_trace_that_cannot_be_served_is_refused_and_the_socket_goes_on(stack):
    long_prompt = "O Romeo, Romeo, wherefore art thou Romeo? " * 24  # about 250 tokens

    async def run():
        socket = await open_socket(stack)
        too_large = await ask(socket, {"type": "trace", "prompt": long_prompt, "parts": "all"})
        bad_layer = await ask(socket, {"type": "trace", "prompt": PROMPT, "layers": [99]})
        bad_position = await ask(socket, {"type": "trace", "prompt": "To be", "positions": [40]})
        # a megabyte and more: Daphne's frame cap must let the biggest replies through
        fine = await ask(
            socket,
            {
                "type": "trace",
                "prompt": long_prompt,
                "parts": ["scores", "attention"],
                "layers": [3],
            },
        )
        await socket.close()
        return too_large, bad_layer, bad_position, fine

    too_large, bad_layer, bad_position, fine = asyncio.run(run())
    assert too_large[-1]["code"] == "reply_too_large", too_large
    assert "MB" in too_large[-1]["message"]
    assert bad_layer[-1]["code"] == "invalid_setting" and "layer 99" in bad_layer[-1]["message"]
    assert bad_position[-1]["code"] == "invalid_setting"
    assert "positions go from 0" in bad_position[-1]["message"]
    assert fine[-1]["type"] == "trace_result", fine[-1]
    assert 1_000_000 < fine[-1]["bytes"] < 8_000_000
