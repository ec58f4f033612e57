"""Speed of continuous batching, as JSON: `python -m inference.batch_bench`.

    python -m inference.batch_bench [MODEL_DIR] [--out FILE] [--threads N] [--quick]

N requests (1, 8 and 30) arrive together, each for 64 new tokens (sampled, seeded, never
stopped early), with prompts of different lengths. They are served two ways:

- sequential: one `generate` after another, as a single worker would;
- engine: one BatchEngine (inference/batching.py) holding them all in one batch.

For each it reports the aggregate new tokens per second (all tokens / wall time) and
each request's time to first token counted from the moment they all arrived (so waiting
in line counts), as mean, median and max; and whether the engine wrote exactly the
tokens `generate` wrote. The model directory defaults to the bundled models/shakespeare.
One run per figure, after one warm-up: the figures are for orders of magnitude, not for
small differences. `--quick` makes a run small enough for a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .batching import BatchEngine, BatchRequest
from .bench import print_report
from .checkpoint import CheckpointError, load_model
from .generate import StepEvent, generate
from .lm import LanguageModel
from .sampling import SamplingSettings

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "shakespeare"
COUNTS = (1, 8, 30)
NEW_TOKENS = 64
QUICK_COUNTS = (1, 3)
QUICK_TOKENS = 4
SETTINGS = SamplingSettings(temperature=1.0, top_k=50)
LINES = (
    "To be, or not to be, that is the question:",
    "Now is the winter of our discontent",
    "Friends, Romans, countrymen, lend me your ears;",
    "O Romeo, Romeo! wherefore art thou Romeo?",
    "All the world's a stage, and all the men and women merely players.",
    "If music be the food of love, play on.",
)


def make_requests(lm: LanguageModel, count: int, new_tokens: int) -> list[BatchRequest]:
    """`count` prompts of different lengths (one to three lines), each with its own seed."""
    requests = []
    for i in range(count):
        text = " ".join(LINES[(i + j) % len(LINES)] for j in range(1 + i % 3))
        ids = lm.tokenizer.encode(text)[: lm.config.block_size - new_tokens]
        requests.append(
            BatchRequest(
                ids,
                max_new_tokens=new_tokens,
                settings=SETTINGS,
                seed=1000 + i,
                stop_at_end_of_text=False,
                request_id=f"r{i}",
            )
        )
    return requests


def _summary(ttft_ms: list[float], n_tokens: int, wall_s: float) -> dict[str, Any]:
    return {
        "wall_s": round(wall_s, 3),
        "tokens_per_second": round(n_tokens / wall_s, 1),
        "ttft_ms": {
            "mean": round(statistics.fmean(ttft_ms), 1),
            "median": round(statistics.median(ttft_ms), 1),
            "max": round(max(ttft_ms), 1),
        },
    }


def run_sequential(lm: LanguageModel, requests: list[BatchRequest]) -> tuple[dict, dict]:
    """One generate after another; (figures, tokens per request)."""
    tokens: dict[str, list[int]] = {}
    ttft = []
    arrived = time.perf_counter()
    for request in requests:
        tokens[request.request_id] = []
        for event in generate(
            lm.model,
            lm.tokenizer,
            request.ids,
            max_new_tokens=request.max_new_tokens,
            settings=request.settings,
            seed=request.seed,
            stop_at_end_of_text=request.stop_at_end_of_text,
        ):
            if isinstance(event, StepEvent):
                if event.index == 0:
                    ttft.append((time.perf_counter() - arrived) * 1000)
                tokens[request.request_id].append(event.token_id)
    wall_s = time.perf_counter() - arrived
    n_tokens = sum(len(t) for t in tokens.values())
    return _summary(ttft, n_tokens, wall_s), tokens


def run_engine(lm: LanguageModel, requests: list[BatchRequest]) -> tuple[dict, dict]:
    """All requests in one BatchEngine; (figures, tokens per request)."""
    engine = BatchEngine(lm.model, lm.tokenizer, max_batch=len(requests))
    tokens: dict[str, list[int]] = {r.request_id: [] for r in requests}
    first: dict[str, float] = {}
    n_steps = 0
    arrived = time.perf_counter()
    for request in requests:
        engine.submit(request)
    while engine.has_work:
        events = engine.step()
        n_steps += 1
        now = time.perf_counter()
        for request_id, event in events:
            if isinstance(event, StepEvent):
                first.setdefault(request_id, (now - arrived) * 1000)
                tokens[request_id].append(event.token_id)
    wall_s = time.perf_counter() - arrived
    n_tokens = sum(len(t) for t in tokens.values())
    figures = _summary(list(first.values()), n_tokens, wall_s)
    figures["steps"] = n_steps
    return figures, tokens


def run(model_dir: str | Path, threads: int = 1, quick: bool = False) -> dict[str, Any]:
    """The whole benchmark as a JSON-ready dict; torch's thread count is restored after."""
    lm = load_model(model_dir)
    counts, new_tokens = (QUICK_COUNTS, QUICK_TOKENS) if quick else (COUNTS, NEW_TOKENS)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        warm = make_requests(lm, 2, min(new_tokens, 8))  # first calls pay for allocations
        run_sequential(lm, warm)
        run_engine(lm, warm)
        cases = []
        for count in counts:
            requests = make_requests(lm, count, new_tokens)
            sequential, seq_tokens = run_sequential(lm, requests)
            engine, engine_tokens = run_engine(lm, requests)
            cases.append(
                {
                    "requests": count,
                    "new_tokens_each": new_tokens,
                    "prompt_tokens": [len(r.ids) for r in requests],
                    "sequential": sequential,
                    "engine": engine,
                    "throughput_ratio": round(
                        engine["tokens_per_second"] / sequential["tokens_per_second"], 2
                    ),
                    "same_tokens": engine_tokens == seq_tokens,
                }
            )
    finally:
        torch.set_num_threads(previous_threads)
    return {
        "benchmark": "inference.batch_bench",
        "model": str(model_dir),
        "parameters": lm.model.num_parameters(),
        "device": str(lm.device),
        "dtype": str(lm.dtype).removeprefix("torch."),
        "threads": threads,
        "torch": torch.__version__,
        "quick": quick,
        "sampling": {"temperature": SETTINGS.temperature, "top_k": SETTINGS.top_k},
        "cases": cases,
        "wall_s": round(time.perf_counter() - started, 2),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m inference.batch_bench",
        description="Serve 1, 8 and 30 concurrent requests with sequential generate and with "
        "the batch engine; prints JSON.",
    )
    parser.add_argument("model_dir", nargs="?", default=str(DEFAULT_MODEL), metavar="MODEL_DIR")
    parser.add_argument("--out", help="also write the JSON to this file")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--quick", action="store_true", help="a small run, for tests")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads < 1:
        print("error: --threads must be at least 1", file=sys.stderr)
        return 2
    try:
        result = run(args.model_dir, threads=args.threads, quick=args.quick)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_report(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
