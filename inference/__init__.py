"""Glassbox's inference engine: a GPT-2-style transformer you can look inside.

Plain PyTorch and tiktoken; this package never imports Django, Channels or Celery.

    lm = inference.load_model("models/shakespeare")
    ids = lm.tokenizer.encode("To be, or not")
    trace = lm.trace(ids)                      # .logits (T, vocab), .attention (L, H, T, T)
    trace = lm.trace(ids, capture="all", layers=[2])   # every part, layer 2's in full
    ablated = lm.trace(ids, intervention=Intervention(ablate_heads={(2, 0)}))
    ablated.comparison                         # next-token distribution before and after
    lm.embedding_space().neighbours(ids, 5)    # nearest tokens by cosine of their wte rows
    lm.bigram.after(ids[-1], 10) if lm.bigram else None   # the shipped bigram table
    for event in lm.generate(ids, max_new_tokens=20, temperature=0.8, seed=1):
        ...                                    # PromptEvent, StepEvent..., DoneEvent
"""

from .batching import BatchEngine, BatchRequest, QueuedEvent
from .bigram_table import BigramTable, BigramTableError
from .capture import PARTS, CaptureError, CaptureSpec
from .checkpoint import (
    CheckpointError,
    CheckpointInfo,
    load_model,
    save_bundle,
    validate_checkpoint,
)
from .config import ConfigError, GPTConfig
from .embedding_space import Analogy, EmbeddingMap, EmbeddingSpace, EmbeddingSpaceError
from .engine_thread import EngineClosed, EngineThread, Ticket
from .experiments import (
    Comparison,
    compare_next_token,
    steering_vector_from_prompts,
    steering_vector_from_token,
)
from .generate import DoneEvent, GenerationError, PromptEvent, StepEvent, generate
from .interventions import Intervention, InterventionError, Steering
from .kv_cache import BatchKVCache, KVCache
from .lm import LanguageModel, LayerNormTrace, LogitLens, Trace
from .model import GPT
from .neuron_examples import NeuronExamples, NeuronExamplesError
from .quantization import QuantizationError, quantized_copy, weight_memory
from .sampling import SamplingError, SamplingSettings, sample
from .token_losses import TokenLosses, token_losses
from .tokenizer import Tokenizer, TokenizerError

__all__ = [
    "PARTS",
    "GPT",
    "Analogy",
    "BatchEngine",
    "BatchKVCache",
    "BatchRequest",
    "EngineClosed",
    "EngineThread",
    "QueuedEvent",
    "Ticket",
    "BigramTable",
    "BigramTableError",
    "EmbeddingMap",
    "EmbeddingSpace",
    "EmbeddingSpaceError",
    "CaptureError",
    "CaptureSpec",
    "Comparison",
    "Intervention",
    "InterventionError",
    "LayerNormTrace",
    "LogitLens",
    "NeuronExamples",
    "NeuronExamplesError",
    "QuantizationError",
    "Steering",
    "compare_next_token",
    "quantized_copy",
    "steering_vector_from_prompts",
    "steering_vector_from_token",
    "weight_memory",
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
    "TokenLosses",
    "Tokenizer",
    "TokenizerError",
    "Trace",
    "generate",
    "load_model",
    "sample",
    "save_bundle",
    "token_losses",
    "validate_checkpoint",
]
