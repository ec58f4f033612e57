"""Autoregressive generation as a stream of events, for people to watch.

Events, in order: one PromptEvent (the prompt's tokens and, if asked, its attention),
then one StepEvent per new token, then one DoneEvent with the finish reason and timings.
The prompt is run once (prefill); each later step feeds only the newest token and reads
the rest from the KV cache. The sampler has its own seeded generator, so the same seed,
prompt and settings give the same tokens.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

from .capture import CaptureSpec
from .interventions import Intervention
from .kv_cache import KVCache
from .model import GPT
from .sampling import SampleReport, SamplingSettings, sample
from .tokenizer import TokenInfo, Tokenizer

FINISH_REASONS = ("length", "end_of_text", "context_full", "cancelled")


class GenerationError(ValueError):
    """A generation request the model cannot run (empty or over-long prompt, bad settings)."""


@dataclass
class PromptEvent:
    tokens: list[TokenInfo]
    attention: torch.Tensor | None  # (L, H, T, T) for the captured layers and heads, CPU
    captured: dict[str, torch.Tensor] | None = None  # the prefill's parts, batch first
    type: str = "prompt"


@dataclass
class StepEvent:
    """One new token, and the attention row of the query position that chose it."""

    index: int  # 0 for the first new token
    token: TokenInfo
    sample: SampleReport
    query_position: int  # the position whose attention row is attached (the one before)
    attention: torch.Tensor | None  # (L, H, query_position + 1) for the captured layers, heads
    elapsed_ms: float  # since generation started
    captured: dict[str, torch.Tensor] | None = None  # that forward pass's parts, batch first
    type: str = "step"

    @property
    def token_id(self) -> int:
        return self.token.id


@dataclass
class DoneEvent:
    finish_reason: str  # one of FINISH_REASONS
    prompt_tokens: int
    new_tokens: int
    seed: int | None  # the seed actually used, so that a run can be repeated
    prefill_ms: float
    time_to_first_token_ms: float
    total_ms: float
    tokens_per_second: float
    type: str = "done"


Event = PromptEvent | StepEvent | DoneEvent


def check_prompt_ids(ids: list[int], block_size: int, vocab_size: int) -> None:
    """Refuse a sequence the model cannot read: empty, too long, or with unknown ids."""
    if not ids:
        raise GenerationError("the prompt is empty")
    if len(ids) > block_size:
        raise GenerationError(
            f"the prompt has {len(ids)} tokens; this model reads at most {block_size}"
        )
    if any(not 0 <= i < vocab_size for i in ids):
        raise GenerationError("the prompt holds a token id outside the model's vocabulary")


def generate(
    model: GPT,
    tokenizer: Tokenizer,
    ids: list[int],
    *,
    max_new_tokens: int = 64,
    settings: SamplingSettings = SamplingSettings(),
    seed: int | None = None,
    capture: CaptureSpec | None = None,
    n_candidates: int = 10,
    should_stop: Callable[[], bool] | None = None,
    stop_at_end_of_text: bool = True,
    intervention: Intervention | None = None,
) -> Iterator[Event]:
    """Yield the events of one generation; `should_stop` is checked before every step.

    `capture` says what each forward pass keeps (the prompt's prefill, then one position
    per step); `intervention` runs the whole generation on a changed model.
    """
    config = model.config
    check_prompt_ids(ids, config.block_size, config.vocab_size)
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise GenerationError("max_new_tokens must be at least 1")
    settings.validate(config.vocab_size)
    if capture is not None and capture.positions is not None:
        raise GenerationError("positions can be chosen for a trace, not for a generation")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    generator = torch.Generator().manual_seed(seed)

    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    cache = KVCache(config, batch_size=1, device=device, dtype=dtype)
    n_prompt = len(ids)

    model.eval()
    started = time.perf_counter()
    with torch.inference_mode():
        out = model(
            torch.tensor([ids], dtype=torch.long, device=device),
            kv_cache=cache,
            capture=capture,
            intervention=intervention,
            last_logits_only=True,
        )
    prefill_ms = (time.perf_counter() - started) * 1000
    prompt_attention = _first_row_of_batch(out.attentions)
    yield PromptEvent(
        tokens=tokenizer.describe(ids), attention=prompt_attention, captured=out.captured or None
    )

    # A vocabulary padded beyond the tokenizer (as GPT-2's 50304 trick does) has ids that
    # decode to nothing: they are never sampled.
    known = tokenizer.known_ids()
    unknown_mask = None
    if len(known) < config.vocab_size:
        unknown_mask = torch.full((config.vocab_size,), float("-inf"))
        unknown_mask[[i for i in known if i < config.vocab_size]] = 0.0

    logits = out.logits[0, -1]
    attention_row = prompt_attention[:, :, -1, :] if prompt_attention is not None else None
    captured = out.captured or None
    first_token_ms = 0.0
    finish_reason = "length"
    n_new = 0
    for index in range(max_new_tokens):
        if should_stop is not None and should_stop():
            finish_reason = "cancelled"
            break
        logits = logits.float().cpu()
        if unknown_mask is not None:
            logits = logits + unknown_mask
        report = sample(logits, settings, generator, n_candidates)
        n_new += 1
        elapsed_ms = (time.perf_counter() - started) * 1000
        if index == 0:
            first_token_ms = elapsed_ms
        yield StepEvent(
            index=index,
            token=tokenizer.describe([report.token_id])[0],
            sample=report,
            query_position=n_prompt + index - 1,
            attention=attention_row,
            elapsed_ms=elapsed_ms,
            captured=captured,
        )
        if stop_at_end_of_text and report.token_id == tokenizer.eot_id:
            finish_reason = "end_of_text"
            break
        if index == max_new_tokens - 1:
            break  # "length": no need to run the model for a token nobody will sample
        if cache.get_pos() >= config.block_size:
            finish_reason = "context_full"
            break
        with torch.inference_mode():
            out = model(
                torch.tensor([[report.token_id]], dtype=torch.long, device=device),
                kv_cache=cache,
                capture=capture,
                intervention=intervention,
                last_logits_only=True,
            )
        logits = out.logits[0, -1]
        attention = _first_row_of_batch(out.attentions)
        attention_row = attention[:, :, -1, :] if attention is not None else None
        captured = out.captured or None

    total_ms = (time.perf_counter() - started) * 1000
    yield DoneEvent(
        finish_reason=finish_reason,
        prompt_tokens=n_prompt,
        new_tokens=n_new,
        seed=seed,
        prefill_ms=prefill_ms,
        time_to_first_token_ms=first_token_ms,
        total_ms=total_ms,
        tokens_per_second=n_new / (total_ms / 1000) if total_ms > 0 else 0.0,
    )


def _first_row_of_batch(attention: torch.Tensor | None) -> torch.Tensor | None:
    """(L, 1, H, T, S) captured attention -> (L, H, T, S); already float32 on the CPU."""
    return None if attention is None else attention[:, 0]
