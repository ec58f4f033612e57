"""The Celery tasks that run on a model worker (queue "gpu"): generate and trace."""

from __future__ import annotations

from celery import shared_task

from . import worker  # noqa: F401  (connects the worker's start-up and heartbeat signals)
from .protocol import GENERATE_TASK, TRACE_TASK
from .streaming import run_generation
from .tracing import run_trace


@shared_task(name=GENERATE_TASK, ignore_result=True)
def generate(request: dict, reply_channel: str) -> None:
    """`request` is the validated request plus the server-side model path and limits."""
    run_generation(request, reply_channel)


@shared_task(name=TRACE_TASK, ignore_result=True)
def trace(request: dict, reply_channel: str) -> None:
    """One forward pass; `request` as for generate."""
    run_trace(request, reply_channel)
