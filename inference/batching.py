"""Continuous batching: many generations share one forward pass per step.

A BatchEngine owns a model and a BatchKVCache with one row per running request. Each
`step()`:

1. drops the requests cancelled since the last step (their rows are freed at once);
2. admits waiting requests, first come first served, while a row is free (and while the
   step's prefill token budget lasts): each prompt is prefilled alone, exactly as
   `generate` does it, its first token is sampled from that prefill, and its keys and
   values are copied into a free row;
3. runs one batched decode pass for every running row (`GPT.decode_step`: each row at
   its own position, seeing only its own keys) and samples one token per row;
4. says, to every request still waiting, its place in line when that place changed.

It returns the step's events as (request_id, event) pairs: the same PromptEvent,
StepEvent and DoneEvent objects `generate` yields, in the same order per request, plus a
QueuedEvent while a request waits. Each request samples with its own torch.Generator
seeded as `generate` seeds it, through the same sampler, so it writes the same tokens it
would write alone (the logits differ from generate's by float rounding only, ~1e-6).
A request leaves the batch the step it finishes or is cancelled; the others go on.

Attention capture: a request may ask for attention rows (CaptureSpec.of("attention",
layers=..., heads=...)). Its prefill captures like `generate`'s. In decode steps the
fused kernel runs for every row, whoever asked; only the rows that asked also get their
weights computed the explicit way, only at the layers some row asked for, and only those
rows' maps are copied to the CPU. We chose this over running the explicit path for the
whole batch because then a row's cost, and its float rounding, would depend on what its
neighbours asked for. Other parts, interventions and quantized models are not batched:
`generate` serves them.

The engine is single-threaded: call it from one thread (engine_thread.py does that for
many callers). Timings in the events count from the request's prefill, as in
`generate`; the QueuedEvents and `waiting_position` tell the time spent in line.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

import torch

from .capture import CaptureSpec
from .generate import (
    DoneEvent,
    Event,
    GenerationError,
    PromptEvent,
    StepEvent,
    check_prompt_ids,
)
from .kv_cache import BatchKVCache, KVCache
from .model import GPT
from .sampling import SamplingSettings, sample
from .tokenizer import Tokenizer


@dataclass
class QueuedEvent:
    """The request waits for a free row; `position` 0 = it goes next."""

    position: int
    type: str = "queued"


EngineEvent = Event | QueuedEvent


@dataclass
class BatchRequest:
    """One generation for the engine: the same settings `generate` takes."""

    ids: list[int]
    max_new_tokens: int = 64
    settings: SamplingSettings = SamplingSettings()
    seed: int | None = None  # None: a random one, reported in the DoneEvent
    capture: CaptureSpec | None = None  # attention only, or None
    n_candidates: int = 10
    stop_at_end_of_text: bool = True
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class _Waiting:
    request: BatchRequest
    seed: int
    reported_position: int | None = None


@dataclass
class _Running:
    """A request in the batch; its row in the cache is its index in `BatchEngine.running`."""

    request: BatchRequest
    seed: int
    generator: torch.Generator
    started: float
    prefill_ms: float
    layers: list[int]  # captured attention layers (empty: none)
    heads: list[int] | None  # captured heads; None = all
    first_token_ms: float = 0.0
    n_new: int = 0
    next_token: int = 0  # the last token sampled, fed at the next step

    @property
    def n_prompt(self) -> int:
        return len(self.request.ids)


class BatchEngine:
    """Runs many generations together: `submit`, then `step()` until `has_work` is False."""

    def __init__(
        self,
        model: GPT,
        tokenizer: Tokenizer,
        max_batch: int = 8,
        max_len: int | None = None,
        prefill_tokens_per_step: int | None = None,
    ):
        """`max_len`: positions kept per row (default the context); `prefill_tokens_per_step`:
        after the first admission of a step, admit more only while their prompts fit this
        many tokens in all, so that a crowd arriving at once does not stall the batch."""
        if not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = model.config
        self.max_len = min(max_len or self.config.block_size, self.config.block_size)
        self.prefill_tokens_per_step = prefill_tokens_per_step
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.cache = BatchKVCache(
            self.config, max_batch, self.max_len, device=self.device, dtype=self.dtype
        )
        self.running: list[_Running] = []
        self.waiting: deque[_Waiting] = deque()
        self._cancelled: set[str] = set()
        self._ids: set[str] = set()  # every request submitted and not yet done
        # as in generate: ids beyond the tokenizer (a padded vocabulary) are never sampled
        known = tokenizer.known_ids()
        self._unknown_mask = None
        if len(known) < self.config.vocab_size:
            self._unknown_mask = torch.full((self.config.vocab_size,), float("-inf"))
            self._unknown_mask[[i for i in known if i < self.config.vocab_size]] = 0.0

    @property
    def max_batch(self) -> int:
        return self.cache.max_batch

    @property
    def has_work(self) -> bool:
        return bool(self.running or self.waiting)

    # --- requests in -------------------------------------------------------------------

    def validate(self, request: BatchRequest) -> None:
        """Refuse, with a sentence (GenerationError, SamplingError, CaptureError), what
        cannot run. It reads no engine state, so any thread may call it."""
        config = self.config
        check_prompt_ids(request.ids, config.block_size, config.vocab_size)
        if not isinstance(request.max_new_tokens, int) or request.max_new_tokens < 1:
            raise GenerationError("max_new_tokens must be at least 1")
        if not isinstance(request.n_candidates, int) or request.n_candidates < 1:
            raise GenerationError("candidates must be at least 1")
        request.settings.validate(config.vocab_size)
        capture = request.capture
        if capture is not None:
            if set(capture.parts) - {"attention"}:
                raise GenerationError("the batch engine captures attention only")
            if capture.positions is not None:
                raise GenerationError("positions can be chosen for a trace, not for a generation")
            capture.validate(config)
        # a row shorter than the context must hold the whole generation, or the request
        # would stop earlier than it does alone
        if self.max_len < config.block_size:
            needed = len(request.ids) + request.max_new_tokens - 1
            if needed > self.max_len:
                raise GenerationError(
                    f"this engine keeps {self.max_len} positions per request; "
                    f"the prompt and the new tokens need {needed}"
                )

    def submit(self, request: BatchRequest) -> str:
        """Queue a request (it starts at a coming step); returns its id."""
        self.validate(request)
        if request.request_id in self._ids:
            raise GenerationError(f"request {request.request_id!r} is already running")
        seed = request.seed
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
        self.waiting.append(_Waiting(request, seed))
        self._ids.add(request.request_id)
        return request.request_id

    def cancel(self, request_id: str) -> bool:
        """Stop a request at the next step (its DoneEvent says "cancelled"). False if unknown."""
        if request_id not in self._ids:
            return False
        self._cancelled.add(request_id)
        return True

    def reset(self) -> list[str]:
        """Drop every request, running or waiting, without events (after a failed step);
        returns their ids. The engine is then empty and ready for new requests."""
        dropped = [r.request.request_id for r in self.running]
        dropped += [w.request.request_id for w in self.waiting]
        while self.cache.n_rows:
            self.cache.remove(self.cache.n_rows - 1)
        self.running.clear()
        self.waiting.clear()
        self._cancelled.clear()
        self._ids.clear()
        return dropped

    def waiting_position(self, request_id: str) -> int | None:
        """0 = next in line; None when the request is not waiting (running or unknown)."""
        for position, waiting in enumerate(self.waiting):
            if waiting.request.request_id == request_id:
                return position
        return None

    # --- one step ----------------------------------------------------------------------

    def step(self) -> list[tuple[str, EngineEvent]]:
        """Admit, decode once, retire: the step's events, as (request_id, event)."""
        events: list[tuple[str, EngineEvent]] = []
        if self._cancelled:
            self._drop_cancelled(events)
        self._admit(events)
        if self.running:
            self._decode(events)
        for position, waiting in enumerate(self.waiting):
            if waiting.reported_position != position:
                waiting.reported_position = position
                events.append((waiting.request.request_id, QueuedEvent(position)))
        return events

    def run(self) -> list[tuple[str, EngineEvent]]:
        """Step until every request is done; all the events, in order (for tests, scripts)."""
        events = []
        while self.has_work:
            events.extend(self.step())
        return events

    def _drop_cancelled(self, events: list) -> None:
        for waiting in [w for w in self.waiting if w.request.request_id in self._cancelled]:
            self.waiting.remove(waiting)
            self._done(waiting.request, waiting.seed, events, "cancelled")
        rows = [i for i, r in enumerate(self.running) if r.request.request_id in self._cancelled]
        self._retire(rows, events, ["cancelled"] * len(rows))
        self._cancelled.clear()

    def _admit(self, events: list) -> None:
        spent = 0
        budget = self.prefill_tokens_per_step
        while self.waiting and len(self.running) < self.max_batch:
            n_prompt = len(self.waiting[0].request.ids)
            if budget is not None and spent and spent + n_prompt > budget:
                break
            spent += n_prompt
            waiting = self.waiting.popleft()
            self._prefill(waiting.request, waiting.seed, events)

    def _prefill(self, request: BatchRequest, seed: int, events: list) -> None:
        """Run the prompt alone, as generate does; sample the first token; join the batch."""
        rid = request.request_id
        capture = request.capture if request.capture else None
        started = time.perf_counter()
        prompt_cache = KVCache(
            self.config,
            batch_size=1,
            max_len=len(request.ids),
            device=self.device,
            dtype=self.dtype,
        )
        with torch.inference_mode():
            out = self.model(
                torch.tensor([request.ids], dtype=torch.long, device=self.device),
                kv_cache=prompt_cache,
                capture=capture,
                last_logits_only=True,
            )
        prefill_ms = (time.perf_counter() - started) * 1000
        attention = out.attentions[:, 0] if out.attentions is not None else None  # (L,H,T,T)
        tokens = self.tokenizer.describe(request.ids)
        events.append((rid, PromptEvent(tokens, attention, captured=out.captured or None)))
        run = _Running(
            request=request,
            seed=seed,
            generator=torch.Generator().manual_seed(seed),
            started=started,
            prefill_ms=prefill_ms,
            layers=capture.layer_indices(self.config.n_layer) if capture else [],
            heads=None
            if capture is None or capture.heads is None
            else capture.head_indices(self.config.n_head),
        )
        logits = out.logits[0, -1].float().cpu()
        row_attention = attention[:, :, -1, :] if attention is not None else None
        reason = self._sample(run, logits, row_attention, out.captured or None, events)
        if reason is not None:
            self._done(request, seed, events, reason, run)
            return
        self.cache.add(prompt_cache)
        self.running.append(run)

    def _decode(self, events: list) -> None:
        """One batched forward pass for every running row, then one token each."""
        tokens = torch.tensor([r.next_token for r in self.running], device=self.device)
        wanting = [i for i, r in enumerate(self.running) if r.layers]
        layers = sorted({layer for i in wanting for layer in self.running[i].layers})
        with torch.inference_mode():
            logits, maps = self.model.decode_step(tokens, self.cache, wanting, layers)
        logits = logits.float().cpu()  # one copy for the whole batch
        maps = maps.cpu() if maps is not None else None  # (L_union, n_wanting, nh, S)
        finished, reasons = [], []
        for row, run in enumerate(self.running):
            attention = captured = None
            if run.layers:
                attention = self._attention_of(run, maps, layers, wanting.index(row))
                captured = {"attention": attention[:, None, :, None, :]}
            reason = self._sample(run, logits[row], attention, captured, events)
            if reason is not None:
                finished.append(row)
                reasons.append(reason)
        self._retire(finished, events, reasons)

    def _attention_of(
        self, run: _Running, maps: torch.Tensor, layers: list[int], index: int
    ) -> torch.Tensor:
        """(L, H, query_position + 1): this request's layers, heads and keys of a step."""
        picked = maps[[layers.index(layer) for layer in run.layers], index]  # (L, nh, S)
        if run.heads is not None:
            picked = picked[:, run.heads]
        n_keys = run.n_prompt + run.n_new  # the query is the last token fed: position n - 1
        return picked[:, :, :n_keys].contiguous()

    def _sample(
        self,
        run: _Running,
        logits: torch.Tensor,
        attention: torch.Tensor | None,
        captured: dict | None,
        events: list,
    ) -> str | None:
        """Sample the next token (StepEvent); the finish reason if the request ends here."""
        request = run.request
        if self._unknown_mask is not None:
            logits = logits + self._unknown_mask
        report = sample(logits, request.settings, run.generator, request.n_candidates)
        index = run.n_new
        run.n_new += 1
        run.next_token = report.token_id
        elapsed_ms = (time.perf_counter() - run.started) * 1000
        if index == 0:
            run.first_token_ms = elapsed_ms
        step = StepEvent(
            index=index,
            token=self.tokenizer.describe([report.token_id])[0],
            sample=report,
            query_position=run.n_prompt + index - 1,
            attention=attention,
            elapsed_ms=elapsed_ms,
            captured=captured,
        )
        events.append((request.request_id, step))
        # the same checks, in the same order, as generate's loop
        if request.stop_at_end_of_text and report.token_id == self.tokenizer.eot_id:
            return "end_of_text"
        if index == request.max_new_tokens - 1:
            return "length"
        if run.n_prompt + index >= self.config.block_size:
            return "context_full"
        return None

    def _retire(self, rows: list[int], events: list, reasons: list[str]) -> None:
        """Free these rows now; the last rows move into the holes (largest row first, so
        that a row that moves is never one that leaves)."""
        for row, reason in sorted(zip(rows, reasons, strict=True), reverse=True):
            run = self.running[row]
            moved = self.cache.remove(row)
            if moved is not None:
                self.running[row] = self.running.pop()
            else:
                self.running.pop()
            self._done(run.request, run.seed, events, reason, run)

    def _done(
        self,
        request: BatchRequest,
        seed: int,
        events: list,
        reason: str,
        run: _Running | None = None,
    ) -> None:
        self._ids.discard(request.request_id)
        if run is None:  # it never started: nothing was computed
            done = DoneEvent(reason, len(request.ids), 0, seed, 0.0, 0.0, 0.0, 0.0)
        else:
            total_ms = (time.perf_counter() - run.started) * 1000
            done = DoneEvent(
                finish_reason=reason,
                prompt_tokens=run.n_prompt,
                new_tokens=run.n_new,
                seed=seed,
                prefill_ms=run.prefill_ms,
                time_to_first_token_ms=run.first_token_ms,
                total_ms=total_ms,
                tokens_per_second=run.n_new / (total_ms / 1000) if total_ms > 0 else 0.0,
            )
        events.append((request.request_id, done))
