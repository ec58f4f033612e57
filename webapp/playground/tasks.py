"""The Celery tasks that run on a model worker: generate and trace (queue "gpu"), and
lesson 13's mini training run (queue "cpu", the trainer process)."""

from __future__ import annotations

from celery import shared_task

from . import worker  # noqa: F401  (connects the worker's start-up and heartbeat signals)
from .protocol import GENERATE_TASK, TRACE_TASK, TRAIN_TASK
from .streaming import run_generation
from .tracing import run_trace
from .training import run_training


@shared_task(name=GENERATE_TASK, ignore_result=True)
def generate(request: dict, reply_channel: str) -> None:
    """`request` is the validated request plus the server-side model path and limits."""
    run_generation(request, reply_channel)


@shared_task(name=TRACE_TASK, ignore_result=True)
def trace(request: dict, reply_channel: str) -> None:
    """One forward pass; `request` as for generate."""
    run_trace(request, reply_channel)


@shared_task(name=TRAIN_TASK, ignore_result=True)
def train(request: dict, reply_channel: str) -> None:
    """A tiny GPT trained from scratch; `request` is the validated request plus the
    student's identity, whose one-run claim the task frees when it ends."""
    run_training(request, reply_channel)
