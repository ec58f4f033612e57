"""End-to-end latency of the live playground, as JSON: `python -m webapp.bench`.

    python -m webapp.bench [--url http://127.0.0.1:8000] [--model SLUG] [--model-dir DIR]
                           [--runs 30] [--tokens 64] [--clients 20] [--client-tokens 32]
                           [--traces 30] [--no-direct] [--out FILE]

It drives an already running Glassbox (Redis, one Celery worker and Daphne) over real
websockets, as the browser does (an Origin header equal to --url), and compares what a
client sees with the engine called directly in this process. Start the stack first:

    GLASSBOX_RATE_LIMIT_PER_MINUTE=0 make run

or by hand (Redis must already be running at REDIS_URL):

    .venv/bin/celery -A webapp worker -Q gpu -P threads -c 40
    GLASSBOX_RATE_LIMIT_PER_MINUTE=0 .venv/bin/daphne -b 127.0.0.1 -p 8000 webapp.asgi:application

The benchmark sends about 50 generations in a few minutes from one IP, more than the
default rate limit (30 a minute) allows: start Daphne with GLASSBOX_RATE_LIMIT_PER_MINUTE=0.

What it measures, for one model (--model, or the server's default model when omitted) and
one fixed request (a few lines of verse, --tokens new tokens, temperature 0.8, top-k 40,
a fixed seed per run, every attention head of every layer, 10 candidates):

1. warm-up: a couple of generations, thrown away (the worker loads and caches the model);
2. sequential: --runs generations one after another on one websocket. Timed at the client
   with time.perf_counter: time to first token (send of `generate` -> first `step`
   received) and per-token latency ((last step arrival - first step arrival) / (steps - 1)),
   plus the worker's own figures from `done`;
3. direct: the same generations through `inference` in this process (the model from
   --model-dir, default models/<--model or shakespeare> under the current directory; one
   torch thread as the worker uses, attention captured, 10 candidates), timed the same way
   on the event iterator, taking turns with the stack runs so that machine noise falls on
   both alike. Then the ratios stack / direct and the overhead per token (stack per-token
   p50 - direct per-token p50); the tokens of each seed are compared too (tokens_match);
4. concurrency: --clients websockets open together and send one generation each at the
   same moment (--client-tokens new tokens; --clients-without-attention asks them for no
   attention maps). The worker batches them (GLASSBOX_BATCH_SIZE rows; the rest wait in
   line); reported as p50/p95 across clients, with how
   many completed and the error codes of those that did not.

The worker coalesces steps into batches every ~30 ms, so the client's per-token figure
reads low when the first batch holds several steps; the report adds the pace counted from
the end of the first batch and the worker's own pace (from `step.elapsed_ms`) beside it.

The output ends with the targets the stack is judged by and whether each is met; the
JSON goes to stdout (and --out), progress to stderr, and the exit status is 1 only when
the warm-up could not complete a generation. Every wait is bounded by a timeout and every
loop by a count; the benchmark only talks to the given URL, which must be on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import math
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from webapp.trace_bench import TRACE_TARGET_MS_P50, trace_phase, trace_summary

PROMPT = (
    "ROMEO.\n"
    "But soft, what light through yonder window breaks?\n"
    "It is the east, and Juliet is the sun.\n\n"
    "JULIET.\n"
    "O Romeo, Romeo, wherefore art thou Romeo?\n"
)
TEMPERATURE = 0.8
TOP_K = 40
CANDIDATES = 10
ATTENTION = {"layers": "all", "heads": "all"}
WARMUP_SEEDS = (1, 2)
RUN_SEED_BASE = 1000
CLIENT_SEED_BASE = 2000
DEFAULT_SLUG = "shakespeare"
MAX_FRAME_BYTES = 2**24  # the prompt's attention of a big model is a large frame
CONNECT_TIMEOUT_S = 10.0
BATCH_GAP_S = 0.005  # steps arriving closer than this came in one coalesced batch
TARGETS = {"overhead_ms_per_token_p50": 2.0, "ttft_ms_p50": 150.0}
NOTES = [
    "The worker coalesces steps: while tokens come faster than every ~30 ms they reach the "
    "client in batches, so per-token latency at the client is measured across the whole run "
    "((last step - first step) / (steps - 1)), never as gaps between arrivals.",
    "That definition reads low when the first batch holds several steps (they were made "
    "before it arrived), so per_token_ms_after_first_batch also counts from the last step of "
    "the first batch (first_batch_steps: steps arriving within 5 ms of each other at the "
    "start), and worker_per_token_ms gives the same span on the worker's clock "
    "(step.elapsed_ms): engine plus the worker's own per-step work, before transport.",
    "Client time to first token runs from sending `generate` to receiving the first `step`; "
    "it includes queueing, the prompt's prefill and attention, and up to one coalescing "
    "interval, since the first step waits for the next batch.",
    "The stack figures share the machine with Redis, Daphne, the worker and this client; "
    "direct figures run in this process with one torch thread, taking turns with the stack "
    "runs.",
]


# -- pure helpers ----------------------------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default; None if
    there are no values."""
    data = sorted(v for v in values if v is not None)
    if not data:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    position = (len(data) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return data[low] + (data[high] - data[low]) * (position - low)


def summarize(values: Iterable[float | None]) -> dict[str, Any]:
    """n, p50, p95, min and max of the values that are not None, rounded for reading."""
    data = [v for v in values if v is not None]
    if not data:
        return {"n": 0, "p50": None, "p95": None, "min": None, "max": None}
    return {
        "n": len(data),
        "p50": rounded(percentile(data, 50)),
        "p95": rounded(percentile(data, 95)),
        "min": rounded(min(data)),
        "max": rounded(max(data)),
    }


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def per_token_ms(first_s: float | None, last_s: float | None, n_steps: int) -> float | None:
    """Milliseconds per token between the first and the last step; None under two steps."""
    if first_s is None or last_s is None or n_steps < 2:
        return None
    return (last_s - first_s) * 1000 / (n_steps - 1)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is not
    positive."""
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def at_most(value: float | None, limit: float) -> dict[str, Any]:
    """A target met when the value exists and is no more than the limit."""
    return {"value": rounded(value), "limit": limit, "met": value is not None and value <= limit}


def count_errors(codes: Iterable[str | None]) -> dict[str, int]:
    return dict(sorted(Counter(code for code in codes if code is not None).items()))


def websocket_url(http_url: str) -> str:
    """The playground's websocket address for a site address (http -> ws, https -> wss)."""
    parts = urlsplit(http_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{http_url!r} is not an http(s) address")
    scheme = "wss" if parts.scheme == "https" else "ws"
    return f"{scheme}://{parts.netloc}/ws/generate/"


def is_loopback(http_url: str) -> bool:
    host = urlsplit(http_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(http_url: str) -> str:
    parts = urlsplit(http_url)
    return f"{parts.scheme}://{parts.netloc}"


# -- one generation over a websocket ---------------------------------------------------------
@dataclass
class RunResult:
    """What one client saw of one generation; times in seconds from time.perf_counter."""

    seed: int
    sent_at: float = 0.0
    queued_at: float | None = None
    model: str | None = None
    first_step_at: float | None = None
    last_step_at: float | None = None
    finished_at: float | None = None
    n_steps: int = 0
    first_batch_steps: int = 0  # steps that arrived together with the first one
    first_elapsed_ms: float | None = None  # the worker's own clock, from `step.elapsed_ms`
    last_elapsed_ms: float | None = None
    token_ids: list[int] = field(default_factory=list)
    prompt: dict[str, Any] | None = None
    done: dict[str, Any] | None = None
    error: str | None = None

    @property
    def completed(self) -> bool:
        return self.done is not None and self.error is None

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first_step_at is None else (self.first_step_at - self.sent_at) * 1000

    @property
    def ack_ms(self) -> float | None:
        return None if self.queued_at is None else (self.queued_at - self.sent_at) * 1000

    @property
    def total_ms(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.sent_at) * 1000

    @property
    def per_token_ms(self) -> float | None:
        return per_token_ms(self.first_step_at, self.last_step_at, self.n_steps)

    @property
    def per_token_ms_after_first_batch(self) -> float | None:
        """The arrival pace counted from the last step of the first batch: the steps that
        came with the first one were generated before it arrived."""
        return per_token_ms(
            self.first_step_at, self.last_step_at, self.n_steps - self.first_batch_steps + 1
        )

    @property
    def worker_per_token_ms(self) -> float | None:
        """The same span on the worker's clock: the engine plus the worker's own work per
        step (serializing, the cancel check, the channel layer), before any transport."""
        if self.first_elapsed_ms is None or self.last_elapsed_ms is None:
            return None
        return per_token_ms(self.first_elapsed_ms / 1000, self.last_elapsed_ms / 1000, self.n_steps)


def generate_message(
    seed: int, tokens: int, model: str | None, request_id: str, attention=ATTENTION
) -> dict:
    message = {
        "type": "generate",
        "version": 1,
        "request_id": request_id,
        "prompt": PROMPT,
        "max_new_tokens": tokens,
        "temperature": TEMPERATURE,
        "top_k": TOP_K,
        "seed": seed,
        "candidates": CANDIDATES,
        "attention": attention,
    }
    if model is not None:
        message["model"] = model
    return message


async def open_socket(url: str) -> ClientConnection:
    """A websocket to the playground, past its `hello`."""
    socket = await connect(
        websocket_url(url),
        origin=origin_of(url),
        max_size=MAX_FRAME_BYTES,
        open_timeout=CONNECT_TIMEOUT_S,
        close_timeout=2,
        proxy=None,
    )
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        hello = json.loads(await socket.recv())
    if hello.get("type") != "hello":
        await socket.close()
        raise ConnectionError(f"expected hello, got {hello.get('type')!r}")
    return socket


async def generate_once(
    socket: ClientConnection, message: dict, timeout: float, max_messages: int
) -> RunResult:
    """Send one `generate` and read until `done` or `error`, stamping arrivals."""
    result = RunResult(seed=message["seed"])
    result.sent_at = time.perf_counter()
    await socket.send(json.dumps(message))
    try:
        async with asyncio.timeout(timeout):
            for _ in range(max_messages):
                raw = await socket.recv()
                if record_message(result, json.loads(raw), time.perf_counter()):
                    return result
        result.error = "too_many_messages"
    except TimeoutError:
        result.error = "timeout"
    return result


def record_message(result: RunResult, message: dict, now: float) -> bool:
    """Note one server message in the result; True when the generation is over."""
    kind = message.get("type")
    if kind == "queued":
        result.queued_at, result.model = now, message.get("model")
    elif kind == "prompt":
        result.prompt = message
    elif kind == "step":
        if result.first_step_at is None:
            result.first_step_at, result.first_elapsed_ms = now, message.get("elapsed_ms")
            result.first_batch_steps = 1
        elif result.n_steps == result.first_batch_steps and in_batch(result.last_step_at, now):
            result.first_batch_steps += 1
        result.last_step_at, result.last_elapsed_ms = now, message.get("elapsed_ms")
        result.n_steps += 1
        result.token_ids.append(message["token"]["id"])
    elif kind == "done":
        result.finished_at, result.done = now, message
        return True
    elif kind == "error":
        result.finished_at, result.error = now, message.get("code") or "error"
        return True
    return False


def in_batch(previous_s: float | None, now_s: float) -> bool:
    """Whether a step arriving at now_s came in the same batch as the one before it."""
    return previous_s is not None and now_s - previous_s <= BATCH_GAP_S


class SequentialClient:
    """One websocket reused for generation after generation, as a browser tab does; it
    reconnects after a run that ended badly."""

    def __init__(self, url: str, timeout: float, max_messages: int):
        self.url, self.timeout, self.max_messages = url, timeout, max_messages
        self.socket: ClientConnection | None = None

    async def run(self, message: dict) -> RunResult:
        try:
            if self.socket is None:
                self.socket = await open_socket(self.url)
            result = await generate_once(self.socket, message, self.timeout, self.max_messages)
        except (OSError, TimeoutError, ConnectionError, websockets.WebSocketException) as exc:
            result = RunResult(seed=message["seed"], error=connection_error_code(exc))
        if result.error in ("timeout", "too_many_messages", "connection_closed"):
            await self.close()
        return result

    async def close(self) -> None:
        if self.socket is not None:
            socket, self.socket = self.socket, None
            await socket.close()


def connection_error_code(exc: BaseException) -> str:
    if isinstance(exc, websockets.ConnectionClosed):
        return "connection_closed"
    if isinstance(exc, websockets.InvalidStatus):
        return f"handshake_{exc.response.status_code}"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "connect_failed"


# -- direct generation in this process -------------------------------------------------------
@dataclass
class DirectResult:
    seed: int
    ttft_ms: float | None
    per_token_ms: float | None
    n_steps: int
    token_ids: list[int]


class DirectEngine:
    """The same model the worker serves, loaded here, with one torch thread."""

    def __init__(self, model_dir: Path):
        import torch

        from inference import CaptureSpec, load_model

        torch.set_num_threads(1)
        self.lm = load_model(model_dir, device="cpu")
        self.capture = CaptureSpec.of("attention")
        self.ids = self.lm.tokenizer.encode(PROMPT)

    def run(self, seed: int, tokens: int) -> DirectResult:
        started = time.perf_counter()
        events = self.lm.generate(
            self.ids,
            max_new_tokens=tokens,
            temperature=TEMPERATURE,
            top_k=TOP_K,
            seed=seed,
            capture=self.capture,
            n_candidates=CANDIDATES,
        )
        first = last = None
        token_ids: list[int] = []
        for event in events:
            if event.type == "step":
                last = time.perf_counter()
                first = first if first is not None else last
                token_ids.append(event.token_id)
        return DirectResult(
            seed=seed,
            ttft_ms=None if first is None else (first - started) * 1000,
            per_token_ms=per_token_ms(first, last, len(token_ids)),
            n_steps=len(token_ids),
            token_ids=token_ids,
        )

    def facts(self) -> dict[str, Any]:
        described = self.lm.describe()
        return {
            "config": described["config"],
            "parameters": described["parameters"]["total"],
            "prompt_tokens": len(self.ids),
        }


# -- the phases ------------------------------------------------------------------------------
def progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


async def warm_up(client: SequentialClient, args) -> list[RunResult]:
    results = []
    for i, seed in enumerate(WARMUP_SEEDS):
        message = generate_message(seed, args.tokens, args.model, f"bench-warmup-{i}")
        results.append(await client.run(message))
    return results


async def sequential_phase(
    client: SequentialClient, engine: DirectEngine | None, args
) -> tuple[list[RunResult], list[DirectResult]]:
    """Stack run i, then direct run i with the same seed, for every run."""
    stack_results: list[RunResult] = []
    direct_results: list[DirectResult] = []
    for i in range(args.runs):
        seed = RUN_SEED_BASE + i
        message = generate_message(seed, args.tokens, args.model, f"bench-run-{i}")
        stack_results.append(await client.run(message))
        if engine is not None:
            direct_results.append(await asyncio.to_thread(engine.run, seed, args.tokens))
        if (i + 1) % 10 == 0 or i + 1 == args.runs:
            progress(f"sequential: {i + 1}/{args.runs}")
    return stack_results, direct_results


class StartLine:
    """Clients arrive once connected; all are released together."""

    def __init__(self) -> None:
        self.arrived = 0
        self.go = asyncio.Event()

    async def wait(self) -> None:
        self.arrived += 1
        await self.go.wait()


async def concurrent_client(args, index: int, line: StartLine) -> RunResult:
    seed = CLIENT_SEED_BASE + index
    message = generate_message(
        seed,
        args.client_tokens,
        args.model,
        f"bench-client-{index}",
        "none" if args.clients_without_attention else ATTENTION,
    )
    try:
        socket = await open_socket(args.url)
    except (OSError, TimeoutError, ConnectionError, websockets.WebSocketException) as exc:
        return RunResult(seed=seed, error=connection_error_code(exc))
    try:
        await line.wait()
        return await generate_once(socket, message, args.timeout, args.client_tokens + 16)
    except (OSError, websockets.WebSocketException) as exc:
        return RunResult(seed=seed, error=connection_error_code(exc))
    finally:
        await socket.close()


async def concurrency_phase(args) -> list[RunResult]:
    """Every client connects, then all send at the same moment."""
    line = StartLine()
    tasks = [asyncio.create_task(concurrent_client(args, i, line)) for i in range(args.clients)]
    deadline = time.monotonic() + CONNECT_TIMEOUT_S + 5
    while line.arrived + sum(t.done() for t in tasks) < len(tasks):
        if time.monotonic() > deadline:
            break  # go with those that are ready; the rest fail or join late
        await asyncio.sleep(0.02)
    line.go.set()
    # each client is bounded by args.timeout; this is a last resort against a hang
    done, pending = await asyncio.wait(tasks, timeout=args.timeout + CONNECT_TIMEOUT_S + 10)
    for task in pending:
        task.cancel()
    return [task_outcome(task, task in done, CLIENT_SEED_BASE + i) for i, task in enumerate(tasks)]


def task_outcome(task: asyncio.Task, finished: bool, seed: int) -> RunResult:
    """A client's result, or one that names how the client itself failed."""
    if not finished:
        return RunResult(seed=seed, error="hung")
    if task.exception() is not None:
        return RunResult(seed=seed, error=f"client_{type(task.exception()).__name__}")
    return task.result()


# -- the report ------------------------------------------------------------------------------
def stack_summary(results: Sequence[RunResult]) -> dict[str, Any]:
    completed = [r for r in results if r.completed]
    done = [r.done for r in completed]
    return {
        "runs": len(results),
        "completed": len(completed),
        "errors": count_errors(r.error for r in results),
        "new_tokens": summarize(r.n_steps for r in completed),
        "ttft_ms": summarize(r.ttft_ms for r in completed),
        "per_token_ms": summarize(r.per_token_ms for r in completed),
        "per_token_ms_after_first_batch": summarize(
            r.per_token_ms_after_first_batch for r in completed
        ),
        "first_batch_steps": summarize(r.first_batch_steps for r in completed),
        "worker_per_token_ms": summarize(r.worker_per_token_ms for r in completed),
        "ack_ms": summarize(r.ack_ms for r in results),
        "total_ms": summarize(r.total_ms for r in completed),
        "worker_done": {
            key: summarize(d.get(key) for d in done)
            for key in ("time_to_first_token_ms", "tokens_per_second", "prefill_ms", "total_ms")
        },
        "finish_reasons": count_errors(d.get("finish_reason") for d in done),
    }


def direct_summary(results: Sequence[DirectResult], stack: Sequence[RunResult]) -> dict:
    by_seed = {r.seed: r.token_ids for r in stack if r.completed}
    compared = [r for r in results if r.seed in by_seed]
    return {
        "runs": len(results),
        "new_tokens": summarize(r.n_steps for r in results),
        "ttft_ms": summarize(r.ttft_ms for r in results),
        "per_token_ms": summarize(r.per_token_ms for r in results),
        "tokens_match": {
            "compared": len(compared),
            "matched": sum(r.token_ids == by_seed[r.seed] for r in compared),
        },
    }


def comparison(stack: dict, direct: dict | None) -> dict[str, Any]:
    direct = direct or {"ttft_ms": {}, "per_token_ms": {}}
    out: dict[str, Any] = {}
    for metric in ("ttft_ms", "per_token_ms"):
        for q in ("p50", "p95"):
            value = ratio(stack[metric].get(q), direct[metric].get(q))
            out[f"{metric.removesuffix('_ms')}_ratio_{q}"] = rounded(value)
    direct_p50 = direct["per_token_ms"].get("p50")
    out["overhead_ms_per_token_p50"] = rounded(difference(stack["per_token_ms"]["p50"], direct_p50))
    out["overhead_ms_per_token_p50_after_first_batch"] = rounded(
        difference(stack["per_token_ms_after_first_batch"]["p50"], direct_p50)
    )
    out["worker_overhead_ms_per_token_p50"] = rounded(
        difference(stack["worker_per_token_ms"]["p50"], direct_p50)
    )
    out["ttft_ms_p50"] = stack["ttft_ms"]["p50"]
    return out


def concurrency_summary(results: Sequence[RunResult], args) -> dict[str, Any]:
    completed = [r for r in results if r.completed]
    return {
        "clients": len(results),
        "max_new_tokens": args.client_tokens,
        "completed": len(completed),
        "errors": count_errors(r.error for r in results),
        "ttft_ms": summarize(r.ttft_ms for r in completed),
        "total_ms": summarize(r.total_ms for r in completed),
        "per_token_ms": summarize(r.per_token_ms for r in completed),
        "ack_ms": summarize(r.ack_ms for r in results),
        "wall_ms": rounded(wall_ms(results)),
    }


def class_throughput(results: Sequence[RunResult], stack: dict[str, Any]) -> dict[str, Any]:
    """The class's tokens per second, per client and all together, and the whole against
    one client alone in the same run (its sequential pace, 1000 / per-token p50)."""
    completed = [r for r in results if r.completed]
    wall = wall_ms(results)
    tokens = sum(r.n_steps for r in completed)
    aggregate = tokens / (wall / 1000) if wall else None
    single_ms = stack["per_token_ms"]["p50"]
    single = 1000 / single_ms if single_ms else None
    per_client = [1000 / r.per_token_ms for r in completed if r.per_token_ms]
    return {
        "tokens_per_second_per_client": summarize(per_client),
        "aggregate_tokens_per_second": rounded(aggregate, 1),
        "single_client_tokens_per_second": rounded(single, 1),
        "aggregate_vs_single_client": rounded(ratio(aggregate, single), 2),
    }


def wall_ms(results: Sequence[RunResult]) -> float | None:
    """From the first send to the last finish, across clients."""
    sent = [r.sent_at for r in results if r.sent_at]
    finished = [r.finished_at for r in results if r.finished_at is not None]
    if not sent or not finished:
        return None
    return (max(finished) - min(sent)) * 1000


def model_facts(results: Sequence[RunResult], engine: DirectEngine | None) -> dict[str, Any]:
    """What the server's messages say about the model, and the direct copy's config."""
    facts: dict[str, Any] = {}
    with_prompt = [r for r in results if r.prompt is not None]
    if with_prompt:
        prompt = with_prompt[0].prompt
        attention = prompt.get("attention") or {}
        facts["prompt_tokens"] = len(prompt.get("tokens", []))
        facts["n_layer"] = len(attention.get("layers", [])) or None
        facts["n_head"] = len(attention.get("heads", [])) or None
    facts["slug"] = next((r.model for r in results if r.model), None)
    if engine is not None:
        facts["direct"] = engine.facts()
    return facts


def environment(engine: DirectEngine | None) -> dict[str, Any]:
    env: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "websockets": websockets.__version__,
        "worker_torch_threads": "TORCH_THREADS in the worker's environment (default 1)",
    }
    if engine is not None:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads_direct"] = torch.get_num_threads()
    return env


def targets(comp: dict, conc: dict | None) -> dict[str, Any]:
    out = {name: at_most(comp.get(name), limit) for name, limit in TARGETS.items()}
    if conc is not None:
        out["all_clients_completed"] = {
            "value": conc["completed"],
            "required": conc["clients"],
            "met": conc["completed"] == conc["clients"],
        }
    return out


# -- main ------------------------------------------------------------------------------------
async def bench(args) -> dict[str, Any]:
    started = datetime.now(UTC).isoformat(timespec="seconds")
    engine = None
    if not args.no_direct:
        progress(f"loading {args.model_dir} for the direct runs")
        engine = DirectEngine(args.model_dir)
    client = SequentialClient(args.url, args.timeout, args.tokens + 16)
    try:
        progress("warm-up")
        warm = await warm_up(client, args)
        if not any(r.completed for r in warm):
            return {"error": "warm-up failed", "warmup_errors": count_errors(r.error for r in warm)}
        stack_results, direct_results = await sequential_phase(client, engine, args)
    finally:
        await client.close()
    traces = None
    if args.traces > 0:
        progress(f"trace: {args.traces} round trips")
        socket = await open_socket(args.url)
        try:
            _, trace_runs = await trace_phase(socket, args.traces, args.timeout, args.model)
        finally:
            await socket.close()
        traces = trace_summary(trace_runs, summarize, count_errors)
    conc_results: list[RunResult] = []
    if args.clients > 0:
        progress(f"concurrency: {args.clients} clients")
        conc_results = await concurrency_phase(args)
    result = report(args, started, engine, warm, stack_results, direct_results, conc_results)
    if traces is not None:
        result["trace"] = traces
        result["targets"]["trace_round_trip_ms_p50"] = at_most(
            traces["round_trip_ms"]["p50"], TRACE_TARGET_MS_P50
        )
    return result


def report(args, started, engine, warm, stack_results, direct_results, conc_results) -> dict:
    stack = stack_summary(stack_results)
    direct = direct_summary(direct_results, stack_results) if engine is not None else None
    comp = comparison(stack, direct)
    conc = concurrency_summary(conc_results, args) if conc_results else None
    if conc is not None:
        conc.update(class_throughput(conc_results, stack))
    notes = list(NOTES)
    every_error = [r.error for r in [*warm, *stack_results, *conc_results]]
    if "rate_limited" in every_error:
        notes.append(
            "Some requests were rate limited: start Daphne with "
            "GLASSBOX_RATE_LIMIT_PER_MINUTE=0 for a benchmark."
        )
    return {
        "benchmark": "webapp.bench",
        "started_at": started,
        "url": args.url,
        "environment": environment(engine),
        "model": model_facts([*warm, *stack_results], engine),
        "settings": settings(args),
        "warmup": {"runs": len(warm), "errors": count_errors(r.error for r in warm)},
        "stack": stack,
        "direct": direct,
        "comparison": comp,
        "concurrency": conc,
        "targets": targets(comp, conc),
        "notes": notes,
    }


def settings(args) -> dict[str, Any]:
    return {
        "model": args.model or "(server default)",
        "model_dir": None if args.no_direct else str(args.model_dir),
        "runs": args.runs,
        "max_new_tokens": args.tokens,
        "clients": args.clients,
        "client_max_new_tokens": args.client_tokens,
        "client_attention": "none" if args.clients_without_attention else ATTENTION,
        "temperature": TEMPERATURE,
        "top_k": TOP_K,
        "candidates": CANDIDATES,
        "attention": ATTENTION,
        "seeds": f"runs {RUN_SEED_BASE}+i, clients {CLIENT_SEED_BASE}+i",
        "timeout_s": args.timeout,
        "prompt_chars": len(PROMPT),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m webapp.bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running site")
    parser.add_argument("--model", default=None, help="model slug (default: server default)")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="the model's directory for the direct runs "
        f"(default: models/<--model or {DEFAULT_SLUG}>)",
    )
    parser.add_argument("--no-direct", action="store_true", help="skip the direct runs")
    parser.add_argument("--runs", type=int, default=30, help="sequential runs")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per sequential run")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (0: none)")
    parser.add_argument(
        "--traces", type=int, default=30, help="trace round trips, one layer in full (0: none)"
    )
    parser.add_argument(
        "--client-tokens", type=int, default=32, help="new tokens per concurrent client"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds one generation may take, queueing included",
    )
    parser.add_argument(
        "--clients-without-attention",
        action="store_true",
        help="the concurrent clients ask for no attention maps (what the capture costs)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not is_loopback(args.url):
        parser.error(f"{args.url} is not a loopback address; the benchmark only runs locally")
    try:
        websocket_url(args.url)
    except ValueError as exc:
        parser.error(str(exc))
    if not 1 <= args.runs <= 1000 or not 0 <= args.clients <= 200:
        parser.error("--runs must be 1..1000 and --clients 0..200")
    if not 0 <= args.traces <= 1000:
        parser.error("--traces must be 0..1000")
    if not 2 <= args.tokens <= 2000 or not 2 <= args.client_tokens <= 2000:
        parser.error("--tokens and --client-tokens must be 2..2000")
    if not 1 <= args.timeout <= 3600:
        parser.error("--timeout must be 1..3600 seconds")
    if args.model_dir is None:
        args.model_dir = Path("models") / (args.model or DEFAULT_SLUG)
    if not args.no_direct and not (args.model_dir / "config.json").is_file():
        parser.error(
            f"no model at {args.model_dir}: pass --model-dir DIR (the directory of "
            "the model the server runs) or --no-direct"
        )


def print_report(result: dict[str, Any], out: Path | None) -> None:
    """The benchmark's JSON on standard output and, with `out`, in that file too (torch-free,
    unlike inference.bench's, so that the stack benchmarks start fast)."""
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(bench(args))
    print_report(result, args.out)
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
