"""The worker side of lesson 13's mini training run: train, stream the progress back.

Runs in the `trainer` process (queue "cpu"), never in the playground's worker, so that
generations keep their core. The run sends `train_started`, one `train_progress` per step
(coalesced by the BatchSender; the first step and every sample go at once) and
`train_done`; whatever happens, it frees the student's one-run claim at the end.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from django.conf import settings

from inference.excerpts import FORUM_SCENE, ExcerptMissing, cached_excerpt
from inference.mini_training import (
    MiniTrainingConfig,
    TrainDone,
    TrainingError,
    TrainProgress,
    TrainStart,
    mini_train,
    uniform_loss,
)

from . import signals
from .protocol import error_message
from .replies import BatchSender, run_on_worker_loop

logger = logging.getLogger(__name__)


def excerpt_text() -> str:
    """Julius Caesar, act 3 scene 2 (the Forum), cut from the training corpus; the lesson
    page shows the same text (webapp/lessons/views.py). ExcerptMissing without a corpus."""
    return cached_excerpt(FORUM_SCENE, str(settings.GLASSBOX["CORPUS_DIR"]))


def run_training(request: dict[str, Any], reply_channel: str) -> None:
    """Entry point for the Celery task: run the async stream on the worker's loop."""
    run_on_worker_loop(stream_training(request, reply_channel))


def event_message(event: TrainStart | TrainProgress | TrainDone, request_id: str, cfg) -> dict:
    """One training event as a protocol message (losses in nats per character)."""
    if isinstance(event, TrainStart):
        return {
            "type": "train_started",
            "request_id": request_id,
            "vocab_size": event.vocab_size,
            "uniform_loss": round(uniform_loss(event.vocab_size), 4),
            "parameters": event.parameters,
            "train_chars": event.train_chars,
            "val_chars": event.val_chars,
            "model": event.model,
            "steps": cfg.steps,
            "sample_every": cfg.sample_every,
            "sample_prompt": event.sample_prompt,
            "time_limit_s": cfg.time_limit_s,
        }
    if isinstance(event, TrainProgress):
        return {
            "type": "train_progress",
            "request_id": request_id,
            "step": event.step,
            "loss": round(event.loss, 4),
            "val_loss": None if event.val_loss is None else round(event.val_loss, 4),
            "learning_rate": event.learning_rate,
            "elapsed_ms": round(event.elapsed_ms, 1),
            "sample": event.sample,
        }
    return done_message(request_id, event)


def done_message(request_id: str, event: TrainDone) -> dict:
    return {
        "type": "train_done",
        "request_id": request_id,
        "finish_reason": event.finish_reason,
        "steps": event.steps,
        "final_loss": None if event.final_loss is None else round(event.final_loss, 4),
        "val_loss": None if event.val_loss is None else round(event.val_loss, 4),
        "total_ms": round(event.total_ms, 1),
    }


def config_for(request: dict[str, Any]) -> MiniTrainingConfig:
    return MiniTrainingConfig(
        steps=request["steps"],
        size=request["size"],
        seed=request["seed"],
        time_limit_s=settings.GLASSBOX["TRAIN_TIME_LIMIT_S"],
    )


async def stream_training(request: dict[str, Any], reply_channel: str) -> None:
    request_id = request["request_id"]
    cancel_id = request["cancel_id"]  # made by the consumer, unique to this run
    sender = BatchSender(reply_channel)
    redis = signals.sync_redis()
    threads = torch.get_num_threads()
    # one core for training, the other stays the playground's
    torch.set_num_threads(settings.GLASSBOX["TRAIN_TORCH_THREADS"])

    def should_stop() -> bool:
        # one Redis round trip per step: far cheaper than the step itself
        return sender.client_gone or signals.is_cancelled(redis, cancel_id)

    try:
        if signals.is_cancelled(redis, cancel_id):  # stopped while it waited in the queue
            nothing = TrainDone("cancelled", 0, None, None, 0.0)
            await sender.add(done_message(request_id, nothing), urgent=True)
            return
        text = excerpt_text() if request["source"] == "excerpt" else request["text"]
        cfg = config_for(request)
        for event in mini_train(text, cfg, should_stop):
            message = event_message(event, request_id, cfg)
            # the first loss and each sample go at once: that is what the student waits for
            urgent = not isinstance(event, TrainProgress) or event.step == 1 or bool(event.sample)
            await sender.add(message, urgent=urgent)
            if sender.client_gone:
                break
    except TrainingError as exc:
        await sender.add(error_message("invalid_setting", str(exc), request_id), urgent=True)
    except ExcerptMissing as exc:
        await sender.add(error_message("no_excerpt", str(exc), request_id), urgent=True)
    except Exception:  # the trainer must survive anything a request does
        logger.exception("training %s failed", request_id)
        sentence = "Something went wrong while training; please try again."
        await sender.add(error_message("internal_error", sentence, request_id), urgent=True)
    finally:
        await sender.flush()
        torch.set_num_threads(threads)
        try:
            signals.release_training(redis, request["identity"], request_id)
        except Exception:  # the claim expires on its own
            logger.warning("could not release the training claim", exc_info=True)


def warm_up() -> None:
    """Run a few steps once at start-up, so that a student's first step is not the slow one."""
    text = "the cat sat on the mat. " * 20
    cfg = MiniTrainingConfig(steps=20, sample_every=10, sample_chars=8)
    for _ in mini_train(text, cfg):
        pass
