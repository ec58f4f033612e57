"""Worker process set-up: torch threads, a heartbeat in Redis, the default model preloaded.

A worker on the "gpu" queue (the playground's) beats into WORKERS_KEY and preloads the
default model; one on the "cpu" queue (the trainer) beats into TRAINERS_KEY and warms up
the mini training run, so that a student's first loss comes at once. One process may do both.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

from celery.signals import worker_init, worker_ready, worker_shutdown

from . import signals

logger = logging.getLogger(__name__)
_stop = threading.Event()
_name = f"{socket.gethostname()}:{id(_stop)}"
_keys: list[str] = []  # the heartbeat sets this process belongs in


@worker_init.connect
def configure_torch(**kwargs) -> None:
    import torch
    from django.conf import settings

    # one thread per worker: small models decode faster without thread overhead
    torch.set_num_threads(settings.GLASSBOX["TORCH_THREADS"])


def _heartbeat_loop(interval: float) -> None:
    client = signals.sync_redis()
    while not _stop.is_set():
        try:
            for key in _keys:
                signals.beat(client, _name, key)
        except Exception:  # Redis briefly away: try again next beat
            logger.warning("heartbeat failed", exc_info=True)
        _stop.wait(interval)


@worker_ready.connect
def start_heartbeat(**kwargs) -> None:
    from django.conf import settings

    queues = _served_queues(kwargs.get("sender"))
    if "cpu" in queues:
        _warm_up_training()
    _keys[:] = [signals.WORKERS_KEY] * ("gpu" in queues) + [signals.TRAINERS_KEY] * (
        "cpu" in queues
    )
    interval = settings.GLASSBOX["WORKER_HEARTBEAT_TTL_S"] / 3
    threading.Thread(target=_heartbeat_loop, args=(interval,), daemon=True).start()
    if "gpu" in queues:
        _preload_default_model()


def _served_queues(consumer) -> set[str]:
    """The queues this worker consumes (`-Q`); both if Celery's internals say nothing."""
    try:
        return set(consumer.app.amqp.queues.consume_from)
    except Exception:
        return {"gpu", "cpu"}


def _warm_up_training() -> None:
    """A few steps on a made-up text: torch's first backward pass is slow."""
    from .training import warm_up

    try:
        warm_up()
    except Exception:
        logger.warning("could not warm up the trainer", exc_info=True)


def _preload_default_model() -> None:
    from webapp.catalog.models import LanguageModel

    from .model_cache import get_model

    try:
        record = LanguageModel.objects.default()
        if record is not None:
            get_model(record.path, record.sha256)
            logger.info("preloaded model %s", record.slug)
    except Exception:
        logger.warning("could not preload the default model", exc_info=True)


@worker_shutdown.connect
def stop_heartbeat(**kwargs) -> None:
    _stop.set()
    for key in _keys:
        with contextlib.suppress(Exception):
            signals.forget_worker(signals.sync_redis(), _name, key)
