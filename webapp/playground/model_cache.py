"""Loaded models, kept in the worker process, least recently used first out.

A model is cached under its folder and the checksum the registry recorded for it. Every
request names that checksum, so a model whose files were replaced (and re-validated, which
records a new checksum) is loaded afresh, never served stale; and a folder whose files no
longer match the registry is refused instead of served. The cache holds at most
GLASSBOX["WORKER_MEMORY_MB"] of weights.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch
from django.conf import settings

from inference import CheckpointError, LanguageModel, load_model
from webapp.catalog.storage import bundle_sha256

_lock = threading.Lock()
_load_lock = threading.Lock()
_loaded: OrderedDict[tuple[str, str], LanguageModel] = OrderedDict()


class ModelChanged(CheckpointError):
    """The files on disk are not the ones the registry validated."""

    def __init__(self, message: str):
        super().__init__("model_changed", message)


def device() -> str:
    wanted = settings.GLASSBOX["DEVICE"]
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        return "cpu"  # a GPU setting on a machine without one still serves, slowly
    return wanted


def model_bytes(lm: LanguageModel) -> int:
    return sum(p.numel() * p.element_size() for p in lm.model.parameters())


def cache_key(path: str | Path, sha256: str = "") -> tuple[str, str]:
    """What the cache (and the batching engines, engines.py) file a model under."""
    return (str(Path(path).resolve()), sha256)


def get_model(path: str | Path, sha256: str = "") -> LanguageModel:
    """The model at `path` with checksum `sha256` (empty: skip the check), loaded once,
    also when many worker threads ask for it at the same moment."""
    path = Path(path)
    key = cache_key(path, sha256)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    with _load_lock:  # one load at a time: a second thread asking waits, then finds it
        with _lock:
            if key in _loaded:
                _loaded.move_to_end(key)
                return _loaded[key]
        return _load(path, key, sha256)


def _load(path: Path, key: tuple[str, str], sha256: str) -> LanguageModel:
    """Check, load and file one model, dropping the least recently used over the budget."""
    if sha256 and bundle_sha256(path) != sha256:
        raise ModelChanged(
            f"the files of {path.name} changed since they were validated; re-validate it"
        )
    lm = load_model(path, device=device())
    budget = settings.GLASSBOX["WORKER_MEMORY_MB"] * 2**20
    with _lock:
        # older versions of the same folder are dead weight: drop them first
        for old in [k for k in _loaded if k[0] == key[0]]:
            del _loaded[old]
        _loaded[key] = lm
        while len(_loaded) > 1 and sum(model_bytes(m) for m in _loaded.values()) > budget:
            _loaded.popitem(last=False)
    return lm


def loaded_keys() -> list[tuple[str, str]]:
    with _lock:
        return list(_loaded)


def clear() -> None:
    with _lock:
        _loaded.clear()
