"""The worker side of a generation: run the engine, stream its events to the consumer.

Steps are coalesced by the BatchSender (replies.py); the prompt, the first token, the
done event and errors go at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings

from inference import (
    BatchRequest,
    CaptureError,
    CaptureSpec,
    CheckpointError,
    DoneEvent,
    EngineThread,
    GenerationError,
    InterventionError,
    QuantizationError,
    SamplingError,
    SamplingSettings,
)
from inference.batching import EngineEvent

from . import signals
from .engines import engine_for
from .experiment_setup import build_experiment
from .model_cache import ModelChanged, cache_key, get_model
from .protocol import ClientError, error_message, event_json, resolve_selection
from .replies import BatchSender, run_on_worker_loop

logger = logging.getLogger(__name__)

CANCEL_CHECK_S = 0.01
ENGINE_POLL_S = 0.05  # how often a waiting request looks for a stop between events
ENGINE_STOP_S = 10.0  # a cancelled request must end within this, or the engine is stuck


def run_generation(request: dict[str, Any], reply_channel: str) -> None:
    """Entry point for the Celery task: run the async stream on the worker's loop."""
    run_on_worker_loop(stream_generation(request, reply_channel))


def explain_failure(exc: Exception, request: dict[str, Any]) -> tuple[str, str]:
    """(code, sentence for the student) for a failed generation; the details go to the log."""
    if isinstance(exc, ModelChanged):
        logger.warning("model %s refused: %s", request.get("model"), exc)
        return (
            "model_unavailable",
            "This model's files changed since it was checked; staff must re-validate it.",
        )
    if isinstance(exc, CheckpointError):
        logger.warning("model %s failed to load: %s", request.get("model"), exc)
        return "model_unavailable", "This model could not be loaded on the server; try another."
    if isinstance(
        exc, (GenerationError, SamplingError, CaptureError, InterventionError, QuantizationError)
    ):
        return "invalid_setting", str(exc)
    logger.error("generation %s failed", request.get("request_id"), exc_info=exc)
    return "internal_error", "Something went wrong while generating; please try again."


def cancelled_before_start(request_id: str) -> dict[str, Any]:
    """The `done` message for a request stopped while it still waited in the queue."""
    nothing = DoneEvent(
        finish_reason="cancelled",
        prompt_tokens=0,
        new_tokens=0,
        seed=None,
        prefill_ms=0.0,
        time_to_first_token_ms=0.0,
        total_ms=0.0,
        tokens_per_second=0.0,
    )
    return event_json(nothing, request_id, tokenizer=None, selection=None)


async def stream_generation(request: dict[str, Any], reply_channel: str) -> None:
    request_id = request["request_id"]
    cancel_id = request.get("cancel_id", request_id)  # unique to this run (consumers.py)
    sender = BatchSender(reply_channel)
    redis = signals.sync_redis()
    limit_s = settings.GLASSBOX["GENERATION_TIME_LIMIT_S"]
    # the time limit counts from the prompt's pass: waiting in line for a row of the
    # batch is bounded by the consumer's queue timeout instead
    deadline = [time.monotonic() + limit_s]
    stopped_by: list[str] = []

    last_check = [0.0]

    def should_stop() -> bool:
        now = time.monotonic()
        if sender.client_gone:
            stopped_by.append("cancelled")
            return True
        # a Redis round trip per token would cost more than a small model's step
        if now - last_check[0] >= CANCEL_CHECK_S:
            last_check[0] = now
            if signals.is_cancelled(redis, cancel_id):
                stopped_by.append("cancelled")
                return True
        if now > deadline[0]:
            stopped_by.append("time_limit")
            return True
        return False

    try:
        if signals.is_cancelled(redis, cancel_id):  # stopped while it waited in the queue
            await sender.add(cancelled_before_start(request_id), urgent=True)
            return
        lm = get_model(request["model_path"], request.get("model_sha256", ""))
        ids = lm.tokenizer.encode(request["prompt"])
        limit = request["max_prompt_tokens"]
        if len(ids) > limit:
            raise ClientError(
                "prompt_too_long",
                f"The prompt is {len(ids)} tokens long; this model reads at most {limit}.",
            )
        selection = resolve_selection(request["attention"], lm.config.n_layer, lm.config.n_head)
        intervention, quantize_bits = build_experiment(lm, request.get("experiment"))
        # only the chosen layers and heads are computed explicitly and copied
        capture = (
            CaptureSpec.of("attention", layers=selection[0], heads=selection[1])
            if selection is not None
            else None
        )
        if intervention is None and quantize_bits is None:
            key = cache_key(request["model_path"], request.get("model_sha256", ""))
            events = batched_events(engine_for(lm, key), request, ids, capture, should_stop)
        else:
            # an experiment changes the model for this request alone: it runs by itself,
            # beside the batch, on this task's thread
            events = lm.generate(
                ids,
                max_new_tokens=request["max_new_tokens"],
                temperature=request["temperature"],
                top_k=request["top_k"],
                top_p=request["top_p"],
                seed=request["seed"],
                capture=capture,
                n_candidates=request["candidates"],
                should_stop=should_stop,
                intervention=intervention,
                quantize_bits=quantize_bits,
            )
        for event in events:
            if event.type == "queued":
                # its place in line changed: 1 = it goes next (docs/protocol.md, `queued`)
                message = queued_message(request, event.position + 1)
                await sender.add(message, urgent=True)
                continue
            if event.type == "prompt":
                deadline[0] = time.monotonic() + limit_s
            message = event_json(event, request_id, lm.tokenizer, selection)
            if event.type == "done":
                if stopped_by:
                    message["finish_reason"] = stopped_by[0]
                outcome = {k: message[k] for k in ("finish_reason", "new_tokens")}
                signals.record_outcome(redis, request_id, outcome)
            # the first token goes at once: time to first token is what a student feels
            await sender.add(message, urgent=event.type != "step" or event.index == 0)
            if sender.client_gone:
                break
    except ClientError as exc:
        await sender.add(error_message(exc.code, exc.message, request_id), urgent=True)
    except Exception as exc:  # the worker must survive anything a request does
        code, sentence = explain_failure(exc, request)
        await sender.add(error_message(code, sentence, request_id), urgent=True)
    finally:
        await sender.flush()


def queued_message(request: dict[str, Any], position: int) -> dict[str, Any]:
    return {
        "type": "queued",
        "request_id": request["request_id"],
        "model": request["model"],
        "position": position,
    }


def batched_events(
    server: EngineThread,
    request: dict[str, Any],
    ids: list[int],
    capture: CaptureSpec | None,
    should_stop,
) -> Iterator[EngineEvent]:
    """The request's events from its model's batching engine: QueuedEvent while it waits
    for a row, then PromptEvent, StepEvent… and DoneEvent as `lm.generate` yields them.

    Between events it asks `should_stop` (stop, a client gone, the time limit) and cancels
    the request in the engine, which ends it with its DoneEvent at the next step. Leaving
    early (the consumer went away) cancels it too, so its row is freed at once."""
    ticket = server.submit(
        BatchRequest(
            ids,
            max_new_tokens=request["max_new_tokens"],
            settings=SamplingSettings(request["temperature"], request["top_k"], request["top_p"]),
            seed=request["seed"],
            capture=capture,
            n_candidates=request["candidates"],
            request_id=request.get("cancel_id", request["request_id"]),
        )
    )
    finished = False
    cancelled_at = None
    try:
        while True:
            event = ticket.poll(ENGINE_POLL_S)
            if cancelled_at is None and should_stop():
                ticket.cancel()
                cancelled_at = time.monotonic()
            if event is None:
                if cancelled_at is not None and time.monotonic() - cancelled_at > ENGINE_STOP_S:
                    raise RuntimeError("the batching engine did not stop a cancelled request")
                continue
            yield event
            if isinstance(event, DoneEvent):
                finished = True
                return
    finally:
        if not finished:
            ticket.cancel()
