"""The batching engines of this worker process: one engine thread per loaded model.

Every generation a worker runs goes through the engine of its model (inference/batching.py,
inference/engine_thread.py), so that all of them advance together, one batched forward pass
per step, instead of one after another. The Celery tasks run on a pool of threads (the
Procfile's worker: `-P threads`); each task submits its request here and forwards its
events, while the engine thread owns the model and the batch (docs/architecture.md,
"Continuous batching").

Engines are filed under the model cache's key (model_cache.cache_key), made on first use,
and closed when the model cache has dropped their model, so that an engine never keeps a
model alive that the memory budget let go.
"""

from __future__ import annotations

import threading

from django.conf import settings

from inference import BatchEngine, EngineThread, LanguageModel

from . import model_cache

_lock = threading.Lock()
_engines: dict[tuple[str, str], EngineThread] = {}


def engine_for(lm: LanguageModel, key: tuple[str, str]) -> EngineThread:
    """The engine thread serving the model filed under `key` (made now if there is none).

    A second copy of the same model (two threads loading it at once) reuses the first
    engine: the engine decodes with its own copy, which holds the same weights.
    """
    with _lock:
        _close_dropped()
        server = _engines.get(key)
        if server is None or not server.alive:
            limits = settings.GLASSBOX
            engine = BatchEngine(
                lm.model,
                lm.tokenizer,
                max_batch=limits["BATCH_SIZE"],
                prefill_tokens_per_step=limits["PREFILL_TOKENS_PER_STEP"] or None,
            )
            server = EngineThread(engine, name=f"glassbox-engine-{lm.name}")
            _engines[key] = server
        return server


def _close_dropped() -> None:
    """Close the engines of models the cache no longer holds (called under _lock)."""
    loaded = set(model_cache.loaded_keys())
    for key in [key for key in _engines if key not in loaded]:
        _engines.pop(key).close(timeout=5.0)


def close_all() -> None:
    """Stop every engine (each running request gets its DoneEvent, `cancelled`)."""
    with _lock:
        while _engines:
            _engines.popitem()[1].close(timeout=5.0)
