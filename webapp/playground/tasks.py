"""The Celery task that runs one generation on a worker (queue "gpu")."""

from __future__ import annotations

from celery import shared_task

from . import worker  # noqa: F401  (connects the worker's start-up and heartbeat signals)
from .protocol import GENERATE_TASK
from .streaming import run_generation


@shared_task(name=GENERATE_TASK, ignore_result=True)
def generate(request: dict, reply_channel: str) -> None:
    """`request` is the validated request plus the server-side model path and limits."""
    run_generation(request, reply_channel)
