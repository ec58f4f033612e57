"""Glassbox's inference engine: a GPT-2-style transformer you can look inside.

Plain PyTorch and tiktoken; this package never imports Django, Channels or Celery.

    lm = inference.load_model("models/shakespeare")
    ids = lm.tokenizer.encode("To be, or not")
    trace = lm.trace(ids)                      # .logits (T, vocab), .attention (L, H, T, T)
    for event in lm.generate(ids, max_new_tokens=20, temperature=0.8, seed=1):
        ...                                    # PromptEvent, StepEvent..., DoneEvent
"""

from .checkpoint import (
    CheckpointError,
    CheckpointInfo,
    load_model,
    save_bundle,
    validate_checkpoint,
)
from .config import ConfigError, GPTConfig
from .generate import DoneEvent, GenerationError, PromptEvent, StepEvent, generate
from .kv_cache import KVCache
from .lm import LanguageModel, Trace
from .model import GPT
from .sampling import SamplingError, SamplingSettings, sample
from .tokenizer import Tokenizer, TokenizerError

__all__ = [
    "GPT",
    "CheckpointError",
    "CheckpointInfo",
    "ConfigError",
    "DoneEvent",
    "GPTConfig",
    "GenerationError",
    "KVCache",
    "LanguageModel",
    "PromptEvent",
    "SamplingError",
    "SamplingSettings",
    "StepEvent",
    "Tokenizer",
    "TokenizerError",
    "Trace",
    "generate",
    "load_model",
    "sample",
    "save_bundle",
    "validate_checkpoint",
]
