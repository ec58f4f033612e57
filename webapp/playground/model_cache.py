"""Loaded models, kept in the worker process so that only the first request pays the load."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import torch

from inference import LanguageModel, load_model

MAX_LOADED = 3  # enough for a class switching between a few models

_lock = threading.Lock()
_loaded: OrderedDict[tuple[str, float], LanguageModel] = OrderedDict()


def device() -> str:
    from django.conf import settings

    wanted = settings.GLASSBOX["DEVICE"]
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        return "cpu"  # a GPU setting on a machine without one still serves, slowly
    return wanted


def get_model(path: str | Path) -> LanguageModel:
    """The model at `path`, loaded once; reloaded if its weights file changed."""
    path = Path(path)
    weights = path / "model.safetensors"
    key = (str(path.resolve()), weights.stat().st_mtime if weights.exists() else 0.0)
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    lm = load_model(path, device=device())
    with _lock:
        _loaded[key] = lm
        while len(_loaded) > MAX_LOADED:
            _loaded.popitem(last=False)
    return lm


def clear() -> None:
    with _lock:
        _loaded.clear()
