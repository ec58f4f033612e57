"""The `trace` phase of the live-stack bench (python -m webapp.bench --traces N).

One websocket sends N traces one after another: the bundled model's 64-token prompt,
every part captured for one layer (all heads, all positions). Timed at the client from
sending `trace` to receiving `trace_result`, beside the worker's own figures (forward
pass, whole task) and the reply's size, so the transport's share can be read off.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection

# 64 tokens for the bundled Shakespeare model (the reply says how many it really was)
TRACE_PROMPT = (
    "ROMEO.\n"
    "But soft, what light through yonder window breaks?\n"
    "It is the east, and Juliet is the sun.\n\n"
    "JULIET.\n"
    "O Romeo, Romeo, wherefore art thou Romeo?\n"
    "Deny thy father and refuse thy name;\n"
    "Or, if"
)
TRACE_LAYER = 2
TRACE_WARMUP = 2
TRACE_TARGET_MS_P50 = 150.0


@dataclass
class TraceRun:
    round_trip_ms: float | None = None
    forward_ms: float | None = None
    worker_total_ms: float | None = None
    reply_bytes: int | None = None
    tokens: int | None = None
    error: str | None = None


def trace_message(index: int, model: str | None) -> dict[str, Any]:
    message = {
        "type": "trace",
        "request_id": f"bench-trace-{index}",
        "prompt": TRACE_PROMPT,
        "parts": "all",
        "layers": [TRACE_LAYER],
        "heads": "all",
        "positions": "all",
    }
    if model is not None:
        message["model"] = model
    return message


async def trace_once(socket: ClientConnection, message: dict, timeout: float) -> TraceRun:
    run = TraceRun()
    sent = time.perf_counter()
    await socket.send(json.dumps(message))
    try:
        async with asyncio.timeout(timeout):
            for _ in range(8):  # queued, then the result: a bounded wait
                reply = json.loads(await socket.recv())
                if reply.get("type") == "error":
                    run.error = reply.get("code")
                    return run
                if reply.get("type") == "trace_result":
                    run.round_trip_ms = (time.perf_counter() - sent) * 1000
                    run.forward_ms = reply["elapsed_ms"]["forward"]
                    run.worker_total_ms = reply["elapsed_ms"]["total"]
                    run.reply_bytes = reply["bytes"]
                    run.tokens = len(reply["tokens"])
                    return run
            run.error = "no_result"
    except TimeoutError:
        run.error = "timeout"
    return run


async def trace_phase(socket: ClientConnection, runs: int, timeout: float, model: str | None):
    """(warm-up runs, measured runs), one after another on one socket."""
    warm = [
        await trace_once(socket, trace_message(-1 - i, model), timeout) for i in range(TRACE_WARMUP)
    ]
    measured = [await trace_once(socket, trace_message(i, model), timeout) for i in range(runs)]
    return warm, measured


def trace_summary(runs: list[TraceRun], summarize, count_errors) -> dict[str, Any]:
    done = [r for r in runs if r.error is None]
    return {
        "runs": len(runs),
        "completed": len(done),
        "errors": count_errors(r.error for r in runs),
        "prompt_tokens": done[0].tokens if done else None,
        "layer": TRACE_LAYER,
        "parts": "all",
        "round_trip_ms": summarize(r.round_trip_ms for r in done),
        "worker_forward_ms": summarize(r.forward_ms for r in done),
        "worker_total_ms": summarize(r.worker_total_ms for r in done),
        "reply_bytes": summarize(r.reply_bytes for r in done),
    }
