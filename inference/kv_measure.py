"""The KV cache measured: the same greedy continuation generated twice, with the cache and
without it, every step timed, and the cache's size from its formula.

Lesson 12 shows that the cache is bookkeeping, not an approximation (both runs pick the
same ids), that it saves time (a step without it reruns the whole text, so its time grows
with the length) and what it costs in memory:

    bytes = 2 (a key and a value) × layers × heads × head size × tokens × bytes per number

Step 0 is the prompt's pass in both runs (the same work); step i > 0 is one new token fed
with the cache, or the whole text of prompt + i tokens without it. The two runs take their
steps in turn, so that a busy machine disturbs both alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .config import GPTConfig
from .generate import check_prompt_ids
from .kv_cache import KVCache
from .model import GPT

DEFAULT_NEW_TOKENS = 32
MAX_NEW_TOKENS = 128


class KVMeasureError(ValueError):
    """A measurement the model cannot run (bad prompt ids, a count out of range)."""


@dataclass(frozen=True)
class TimedRun:
    """One greedy continuation: the new ids and each step's forward pass in milliseconds."""

    ids: list[int]
    step_ms: list[float]

    @property
    def total_ms(self) -> float:
        return sum(self.step_ms)


@dataclass(frozen=True)
class CacheSize:
    """The formula's factors for one model, and what they multiply to."""

    n_layer: int
    n_head: int
    head_size: int
    bytes_per_number: int
    dtype: str

    def bytes_for(self, tokens: int) -> int:
        return 2 * self.n_layer * self.n_head * self.head_size * tokens * self.bytes_per_number

    @property
    def bytes_per_token(self) -> int:
        return self.bytes_for(1)


@dataclass(frozen=True)
class KVMeasurement:
    """Both runs of one prompt, and the cache they needed."""

    prompt_tokens: int
    requested_tokens: int  # what was asked for; new_tokens may be fewer (context, end of text)
    cached: TimedRun
    uncached: TimedRun
    size: CacheSize
    cache_tensor_bytes: int  # what the cache's key and value tensors held after the run
    cached_positions: int  # positions stored in the cache after the run
    block_size: int

    @property
    def identical(self) -> bool:
        return self.cached.ids == self.uncached.ids

    @property
    def new_tokens(self) -> int:
        return len(self.cached.ids)

    @property
    def tokens(self) -> int:
        """The text's length after the run: prompt plus new tokens."""
        return self.prompt_tokens + self.new_tokens


def cache_size(config: GPTConfig, dtype: torch.dtype) -> CacheSize:
    """The formula's factors for `config` with numbers stored as `dtype`."""
    return CacheSize(
        n_layer=config.n_layer,
        n_head=config.n_head,
        head_size=config.n_embd // config.n_head,
        bytes_per_number=torch.empty((), dtype=dtype).element_size(),
        dtype=str(dtype).removeprefix("torch."),
    )


def tokens_that_fit(n_prompt: int, requested: int, block_size: int) -> int:
    """New tokens the context allows: the last one is chosen, never fed back in."""
    return max(0, min(requested, block_size - n_prompt + 1))


def measure_kv_cache(
    model: GPT,
    ids: list[int],
    new_tokens: int = DEFAULT_NEW_TOKENS,
    *,
    end_of_text: int | None = None,
    allowed_ids: list[int] | None = None,
) -> KVMeasurement:
    """Generate `new_tokens` greedily after `ids` with the cache and without it, timing
    each step. Stops early at `end_of_text` (if given) or when the context is full.

    `allowed_ids`: the ids the tokenizer can decode, when the vocabulary is padded beyond
    it (those never win, as in generate()).
    """
    config = model.config
    try:
        check_prompt_ids(ids, config.block_size, config.vocab_size)
    except ValueError as exc:
        raise KVMeasureError(str(exc)) from exc
    if not isinstance(new_tokens, int) or not 1 <= new_tokens <= MAX_NEW_TOKENS:
        raise KVMeasureError(f"the number of new tokens must be 1 to {MAX_NEW_TOKENS}")
    count = tokens_that_fit(len(ids), new_tokens, config.block_size)
    weight = model.lm_head.weight
    mask = _unknown_mask(config.vocab_size, allowed_ids)
    model.eval()
    with torch.inference_mode():
        _forward(model, ids, None)  # warm-up: first-call allocations are nobody's cost
        cache = KVCache(config, batch_size=1, device=weight.device, dtype=weight.dtype)
        cached, uncached = _both_runs(model, ids, count, cache, end_of_text, mask)
    used = cache.get_pos()
    return KVMeasurement(
        prompt_tokens=len(ids),
        requested_tokens=new_tokens,
        cached=cached,
        uncached=uncached,
        size=cache_size(config, weight.dtype),
        cache_tensor_bytes=cache.k[:, :, :, :used].nbytes + cache.v[:, :, :, :used].nbytes,
        cached_positions=used,
        block_size=config.block_size,
    )


def _unknown_mask(vocab_size: int, allowed_ids: list[int] | None) -> torch.Tensor | None:
    if allowed_ids is None or len(allowed_ids) >= vocab_size:
        return None
    mask = torch.full((vocab_size,), float("-inf"))
    mask[[i for i in allowed_ids if i < vocab_size]] = 0.0
    return mask


class _GreedyRun:
    """One greedy continuation, advanced a step at a time; with a cache, each step after
    the first feeds only the newest token, without one the whole text so far."""

    def __init__(self, model: GPT, prompt: list[int], cache: KVCache | None, mask, end_of_text):
        self.model, self.cache, self.mask, self.end_of_text = model, cache, mask, end_of_text
        self.text = list(prompt)
        self.feed = list(prompt)  # what the next forward pass reads
        self.ids: list[int] = []
        self.step_ms: list[float] = []
        self.finished = False

    def step(self) -> None:
        started = time.perf_counter()
        logits = _forward(self.model, self.feed, self.cache)
        _synchronize(logits)
        self.step_ms.append((time.perf_counter() - started) * 1000)
        logits = logits.float().cpu()
        if self.mask is not None:
            logits = logits + self.mask
        token = int(torch.argmax(logits))
        self.ids.append(token)
        self.text.append(token)
        self.finished = token == self.end_of_text
        self.feed = [token] if self.cache is not None else list(self.text)

    def result(self) -> TimedRun:
        return TimedRun(ids=self.ids, step_ms=self.step_ms)


def _both_runs(
    model: GPT, prompt: list[int], count: int, cache: KVCache, end_of_text, mask
) -> tuple[TimedRun, TimedRun]:
    """(with the cache, without it), their steps taken in turn: a machine that is busy
    with something else for a moment slows both runs alike, not one of them."""
    runs = [
        _GreedyRun(model, prompt, cache, mask, end_of_text),
        _GreedyRun(model, prompt, None, mask, end_of_text),
    ]
    for _ in range(count):
        for run in runs:
            if not run.finished:
                run.step()
        if all(run.finished for run in runs):
            break
    return runs[0].result(), runs[1].result()


def _forward(model: GPT, ids: list[int], cache: KVCache | None) -> torch.Tensor:
    """The last position's logits (vocab,) for `ids`, read after what `cache` holds."""
    device = model.lm_head.weight.device
    batch = torch.tensor([ids], dtype=torch.long, device=device)
    return model(batch, kv_cache=cache, last_logits_only=True).logits[0, -1]


def _synchronize(tensor: torch.Tensor) -> None:
    # a GPU runs asynchronously: without this the clock stops before the work is done
    if tensor.is_cuda:
        torch.cuda.synchronize(tensor.device)
