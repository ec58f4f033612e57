"""Worker process set-up: torch threads, a heartbeat in Redis, the default model preloaded."""

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
            signals.beat(client, _name)
        except Exception:  # Redis briefly away: try again next beat
            logger.warning("heartbeat failed", exc_info=True)
        _stop.wait(interval)


@worker_ready.connect
def start_heartbeat(**kwargs) -> None:
    from django.conf import settings

    interval = settings.GLASSBOX["WORKER_HEARTBEAT_TTL_S"] / 3
    threading.Thread(target=_heartbeat_loop, args=(interval,), daemon=True).start()
    _preload_default_model()


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
    with contextlib.suppress(Exception):
        signals.forget_worker(signals.sync_redis(), _name)
