"""Lesson 13's mini training run against a live stack, as JSON: `python -m webapp.training_bench`.

    python -m webapp.training_bench [--url http://127.0.0.1:8000] [--runs 3] [--idle 20]
                                    [--tokens 16] [--gap 0.3] [--steps N] [--out FILE]

It drives an already running Glassbox (`make run`: Redis, the `worker`, the `trainer` and
Daphne) over real websockets, as a lesson page does, and answers two questions:

1. How soon does a student see the first loss, and how long does the default run take?
   `--runs` training runs (the server's default request: the Shakespeare excerpt, the
   default steps and size, or `--steps`), one after another, each timed at the client
   from sending `train` to the first `train_progress` (time to first loss) and to
   `train_done` (total), with the trainer's own figures from the messages beside them.
2. Does the playground keep answering meanwhile? On a second websocket (a second
   student) short generations (`--tokens` new tokens, `--gap` seconds apart) are timed
   from `generate` to the first `step` (time to first token): `--idle` of them with no
   training going, then as many as fit while each training run goes. Reported as p50/p95
   for both, and their ratio.

The two run on different processes (`worker` on queue "gpu", `trainer` on queue "cpu",
one torch thread each), so on a two-core machine the ratio says what the trainer's core
costs the playground. Start the stack with the generation rate limit off, since one
client sends many generations:

    GLASSBOX_RATE_LIMIT_PER_MINUTE=0 make run

Targets (the lesson 13 issue): the first loss within 2 s, the default run within 30 s.
Every wait is bounded; the benchmark only talks to the given URL, which must be on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from webapp.bench import (
    RunResult,
    at_most,
    generate_message,
    generate_once,
    is_loopback,
    open_socket,
    print_report,
    ratio,
    rounded,
    summarize,
    websocket_url,
)

TARGETS = {"time_to_first_loss_ms": 2000.0, "default_run_total_ms": 30000.0}
PROBE_SEED_BASE = 5000
MAX_MESSAGES = 5000  # a training run sends one message per step and a few more


@dataclass
class TrainingResult:
    """What the client saw of one training run; times in seconds from time.perf_counter."""

    sent_at: float = 0.0
    started_at: float | None = None
    first_loss_at: float | None = None
    finished_at: float | None = None
    first: dict | None = None  # the first train_progress
    done: dict | None = None
    steps_seen: int = 0
    error: str | None = None

    def ms(self, at: float | None) -> float | None:
        return None if at is None else (at - self.sent_at) * 1000


async def train_once(socket: ClientConnection, steps: int | None, timeout: float) -> TrainingResult:
    """Send one `train` and read until `train_done` or `error`, stamping arrivals."""
    result = TrainingResult()
    message: dict[str, Any] = {"type": "train", "version": 1, "request_id": "bench-train"}
    if steps is not None:
        message["steps"] = steps
    result.sent_at = time.perf_counter()
    await socket.send(json.dumps(message))
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_MESSAGES):
                reply = json.loads(await socket.recv())
                now = time.perf_counter()
                kind = reply.get("type")
                if kind == "train_started":
                    result.started_at = now
                elif kind == "train_progress":
                    result.steps_seen += 1
                    if result.first_loss_at is None:
                        result.first_loss_at, result.first = now, reply
                elif kind == "train_done":
                    result.finished_at, result.done = now, reply
                    return result
                elif kind == "error":
                    result.finished_at, result.error = now, reply.get("code") or "error"
                    return result
        result.error = "too_many_messages"
    except TimeoutError:
        result.error = "timeout"
    return result


async def probe(socket: ClientConnection, seed: int, args) -> RunResult:
    """One short generation, timed to its first token."""
    message = generate_message(seed, args.tokens, None, f"bench-probe-{seed}")
    return await generate_once(socket, message, args.timeout, args.tokens + 10)


async def probes_until(socket, stop: asyncio.Event, seed: int, args) -> list[RunResult]:
    """Generations `args.gap` apart until `stop` is set (at most 1000)."""
    results = []
    for i in range(1000):
        if stop.is_set():
            break
        results.append(await probe(socket, seed + i, args))
        with contextlib.suppress(TimeoutError):  # the gap, cut short when training ends
            await asyncio.wait_for(stop.wait(), args.gap)
    return results


async def bench(args) -> dict[str, Any]:
    started = datetime.now(UTC)
    student, playground = await open_socket(args.url), await open_socket(args.url)
    try:
        warm = await probe(playground, 1, args)
        if warm.error is not None:
            return {"error": f"the warm-up generation failed: {warm.error}"}
        idle = []
        for i in range(args.idle):
            idle.append(await probe(playground, PROBE_SEED_BASE + i, args))
            await asyncio.sleep(args.gap)
        runs, during = [], []
        for run in range(args.runs):
            stop = asyncio.Event()
            seed = PROBE_SEED_BASE + 1000 * (run + 1)
            probing = asyncio.create_task(probes_until(playground, stop, seed, args))
            result = await train_once(student, args.steps, args.timeout)
            stop.set()
            during += await probing
            runs.append(result)
            print(f"run {run + 1}: {describe(result)}", file=sys.stderr)
    finally:
        await student.close()
        await playground.close()
    return report(args, started, runs, idle, during)


def describe(result: TrainingResult) -> str:
    if result.error:
        return f"error {result.error}"
    return (
        f"first loss {result.ms(result.first_loss_at):.0f} ms, "
        f"done {result.ms(result.finished_at):.0f} ms ({result.done['finish_reason']})"
    )


def report(args, started, runs, idle, during) -> dict[str, Any]:
    good = [r for r in runs if r.error is None and r.done is not None]
    first_loss = summarize(r.ms(r.first_loss_at) for r in good)
    total = summarize(r.ms(r.finished_at) for r in good)
    idle_ttft = summarize(r.ttft_ms for r in idle if r.error is None)
    busy_ttft = summarize(r.ttft_ms for r in during if r.error is None)
    return {
        "benchmark": "webapp.training_bench",
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "url": args.url,
        "settings": {
            "runs": args.runs,
            "steps": args.steps or "server default",
            "probe_tokens": args.tokens,
            "probe_gap_s": args.gap,
            "idle_probes": args.idle,
        },
        "training": {
            "completed": len(good),
            "errors": [r.error for r in runs if r.error],
            "finish_reasons": [r.done["finish_reason"] for r in good],
            "steps": [r.done["steps"] for r in good],
            "time_to_first_loss_ms": first_loss,
            "trainer_first_step_ms": summarize(r.first["elapsed_ms"] for r in good if r.first),
            "total_ms": total,
            "trainer_total_ms": summarize(r.done["total_ms"] for r in good),
            "first_loss": [r.first["loss"] for r in good if r.first],
            "final_loss": [r.done["final_loss"] for r in good],
        },
        "playground_ttft_ms": {
            "idle": idle_ttft,
            "during_training": busy_ttft,
            "errors_during_training": [r.error for r in during if r.error],
            "p50_ratio_during_vs_idle": rounded(ratio(busy_ttft["p50"], idle_ttft["p50"])),
            "p95_ratio_during_vs_idle": rounded(ratio(busy_ttft["p95"], idle_ttft["p95"])),
        },
        "targets": {
            "time_to_first_loss_ms_max": at_most(
                first_loss["max"], TARGETS["time_to_first_loss_ms"]
            ),
            "total_ms_max": at_most(total["max"], TARGETS["default_run_total_ms"])
            if args.steps is None
            else "not judged: --steps is not the default run",
        },
        "environment": {
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m webapp.training_bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running site")
    parser.add_argument("--runs", type=int, default=3, help="training runs, one at a time")
    parser.add_argument("--steps", type=int, default=None, help="steps (default: the server's)")
    parser.add_argument("--idle", type=int, default=20, help="generations with no training")
    parser.add_argument("--tokens", type=int, default=16, help="new tokens per generation")
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between generations")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if not is_loopback(args.url):
        parser.error(f"{args.url} is not a loopback address; the benchmark only runs locally")
    try:
        websocket_url(args.url)
    except ValueError as exc:
        parser.error(str(exc))
    if not 1 <= args.runs <= 50 or not 1 <= args.idle <= 1000:
        parser.error("--runs must be 1..50 and --idle 1..1000")
    if not 2 <= args.tokens <= 500 or not 0 <= args.gap <= 10 or not 1 <= args.timeout <= 600:
        parser.error("--tokens must be 2..500, --gap 0..10 s and --timeout 1..600 s")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(bench(args))
    print_report(result, args.out)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
