"""LanguageModel: a loaded GPT with its tokenizer, and the calls the rest of Glassbox uses:
`trace` (one forward pass, any captured part, any experiment), `generate`, and the
questions about its tables that need no forward pass (`embedding_space`, `bigram`,
`neuron_examples`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .bigram_table import BigramTable
from .capture import PARTS, CaptureSpec
from .config import GPTConfig
from .embedding_space import EmbeddingSpace
from .experiments import Comparison, compare_next_token
from .generate import Event, GenerationError, check_prompt_ids, generate
from .interventions import Intervention
from .model import GPT
from .neuron_examples import NeuronExamples, NeuronExamplesError, load_beside
from .quantization import check_bits, quantized_copy
from .sampling import SamplingSettings
from .tokenizer import Tokenizer

# what `lm.trace(ids)` keeps when nothing is named, as it always has
DEFAULT_TRACE_PARTS = ("logits", "attention", "residuals")


@dataclass
class LayerNormTrace:
    """One layer norm per captured layer: its input's statistics and its output."""

    mean: torch.Tensor  # (L, T) mean of the input vector at each position
    std: torch.Tensor  # (L, T) sqrt(variance + eps): what the norm divides by
    out: torch.Tensor  # (L, T, C) after normalising, scaling and shifting


@dataclass
class LogitLens:
    """What every residual point would predict (0 = embeddings … L = after the last block)."""

    top_ids: torch.Tensor  # (L+1, T, k) long, most likely first
    top_probs: torch.Tensor  # (L+1, T, k)
    target_ids: torch.Tensor  # (T,) the token followed through the layers
    target_ranks: torch.Tensor  # (L+1, T) long, 0 = that point's top token
    target_probs: torch.Tensor  # (L+1, T)


@dataclass
class Trace:
    """What one forward pass over a sequence showed (batch dimension removed, float32, CPU).

    A field is None unless its part was captured. Per-layer fields are stacked over
    `layers` (the captured layers, in order), per-head fields over `heads`, and every
    per-position axis holds `positions` (all of them unless a subset was asked for).
    """

    ids: list[int]
    layers: list[int]
    heads: list[int]
    positions: list[int]
    logits: torch.Tensor | None = None  # (T, vocab)
    token_embeddings: torch.Tensor | None = None  # (T, C)
    position_embeddings: torch.Tensor | None = None  # (T, C)
    residuals: torch.Tensor | None = None  # (n_layer + 1, T, C)
    ln_1: LayerNormTrace | None = None
    ln_2: LayerNormTrace | None = None
    q: torch.Tensor | None = None  # (L, H, T, hs)
    k: torch.Tensor | None = None
    v: torch.Tensor | None = None
    scores: torch.Tensor | None = None  # (L, H, T, T) before mask and softmax
    attention: torch.Tensor | None = None  # (L, H, T, T); row = query, column = key
    head_outputs: torch.Tensor | None = None  # (L, H, T, C); + c_proj.bias = attn_out
    attn_out: torch.Tensor | None = None  # (L, T, C)
    mlp_pre: torch.Tensor | None = None  # (L, T, 4C)
    mlp_post: torch.Tensor | None = None  # (L, T, 4C)
    mlp_out: torch.Tensor | None = None  # (L, T, C)
    logit_lens: LogitLens | None = None
    comparison: Comparison | None = None  # plain vs changed model, when an experiment ran
    parts: frozenset[str] = frozenset()


def build_trace(ids: list[int], spec: CaptureSpec, config: GPTConfig, captured: dict) -> Trace:
    """Turn the recorder's tensors (batch first) into a Trace for one sequence."""

    def one(name: str, batch_axis: int) -> torch.Tensor | None:
        tensor = captured.get(name)
        return None if tensor is None else tensor.select(batch_axis, 0)

    def layer_norm(name: str) -> LayerNormTrace | None:
        if f"{name}.out" not in captured:
            return None
        return LayerNormTrace(*(one(f"{name}.{part}", 1) for part in ("mean", "std", "out")))

    lens = None
    if "logit_lens.top_ids" in captured:
        lens = LogitLens(
            top_ids=one("logit_lens.top_ids", 0),
            top_probs=one("logit_lens.top_probs", 0),
            target_ids=one("logit_lens.target_ids", 0),
            target_ranks=one("logit_lens.target_ranks", 0),
            target_probs=one("logit_lens.target_probs", 0),
        )
    stacked = ("residuals", "q", "k", "v", "scores", "attention", "head_outputs")
    stacked += ("attn_out", "mlp_pre", "mlp_post", "mlp_out")
    return Trace(
        ids=list(ids),
        layers=spec.layer_indices(config.n_layer),
        heads=spec.head_indices(config.n_head),
        positions=list(spec.positions) if spec.positions is not None else list(range(len(ids))),
        logits=one("logits", 0),
        token_embeddings=one("token_embeddings", 0),
        position_embeddings=one("position_embeddings", 0),
        ln_1=layer_norm("ln_1"),
        ln_2=layer_norm("ln_2"),
        logit_lens=lens,
        parts=spec.parts,
        **{name: one(name, 1) for name in stacked},
    )


@dataclass
class LanguageModel:
    """A GPT, its tokenizer and what is known about where it came from."""

    model: GPT
    tokenizer: Tokenizer
    name: str = "model"
    source_format: str = "bundle"  # "bundle" or "huggingface"
    card: dict[str, Any] = field(default_factory=dict)
    bigram: BigramTable | None = None  # the folder's bigram table, if it ships one
    folder: Path | None = None  # where it was loaded from (None: built in memory)
    _quantized: dict[int, GPT] = field(default_factory=dict, repr=False)
    _quantize_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _spaces: dict[int | None, EmbeddingSpace] = field(default_factory=dict, repr=False)
    _spaces_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _neurons: NeuronExamples | NeuronExamplesError | None = field(default=None, repr=False)

    @property
    def config(self) -> GPTConfig:
        return self.model.config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def quantized(self, bits: int) -> GPT:
        """A copy of the model with weights rounded to `bits`, made once and kept."""
        check_bits(bits)
        with self._quantize_lock:
            if bits not in self._quantized:
                self._quantized[bits] = quantized_copy(self.model, bits)
            return self._quantized[bits]

    def model_for(self, quantize_bits: int | None) -> GPT:
        return self.model if quantize_bits is None else self.quantized(quantize_bits)

    def embedding_space(self, quantize_bits: int | None = None) -> EmbeddingSpace:
        """Neighbours, analogies and the 2-D map of the token embeddings (of the weights
        rounded to `quantize_bits`, if given), made once per weights and kept."""
        model = self.model_for(quantize_bits)
        with self._spaces_lock:
            if quantize_bits not in self._spaces:
                self._spaces[quantize_bits] = EmbeddingSpace(
                    model.transformer.wte.weight, self.tokenizer.known_ids()
                )
            return self._spaces[quantize_bits]

    def neuron_examples(self) -> NeuronExamples:
        """The folder's neuron examples (inference/neuron_examples.py), read and checked
        against the weights on first use and kept; NeuronExamplesError with a sentence
        when the folder ships none or ships one that does not fit."""
        with self._spaces_lock:  # the same lock as the spaces: both are made once, rarely
            if self._neurons is None:
                try:
                    self._neurons = load_beside(self.folder, self.config, self.mlp_width)
                except NeuronExamplesError as exc:
                    self._neurons = exc  # asked again, the same answer without re-reading
            if isinstance(self._neurons, NeuronExamplesError):
                raise NeuronExamplesError(str(self._neurons))
            return self._neurons

    @property
    def mlp_width(self) -> int:
        return self.model.transformer.h[0].mlp.c_fc.out_features

    def trace(
        self,
        ids: list[int],
        capture: CaptureSpec | Iterable[str] | str | None = None,
        layers: Iterable[int] | None = None,
        heads: Iterable[int] | None = None,
        positions: Iterable[int] | None = None,
        lens_top_k: int = 10,
        lens_token: int | None = None,
        intervention: Intervention | None = None,
        quantize_bits: int | None = None,
        compare_top_k: int = 10,
    ) -> Trace:
        """Run the model once over `ids` and keep what `capture` names.

        `capture` is a CaptureSpec, a list of part names, "all", or None for the
        logits, attention and residuals. With an intervention or `quantize_bits`, the
        parts come from the changed model and `trace.comparison` sets its next-token
        distribution beside the plain model's.
        """
        spec = self.capture_spec(capture, layers, heads, positions, lens_top_k, lens_token)
        check_prompt_ids(ids, self.config.block_size, self.config.vocab_size)
        if spec.positions is not None and max(spec.positions) >= len(ids):
            raise GenerationError(f"position {max(spec.positions)} is past the last token")
        if intervention is not None:
            intervention.validate(self.config)
        changed = bool(intervention) or quantize_bits is not None
        model = self.model_for(quantize_bits)
        model.eval()
        batch = torch.tensor([list(ids)], dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = model(batch, capture=spec, intervention=intervention)
            comparison = None
            if changed:
                plain = self.model(batch, last_logits_only=True)
                comparison = compare_next_token(
                    plain.logits[0, -1], out.logits[0, -1], compare_top_k
                )
        trace = build_trace(ids, spec, self.config, out.captured)
        trace.comparison = comparison
        return trace

    def capture_spec(
        self,
        capture: CaptureSpec | Iterable[str] | str | None,
        layers: Iterable[int] | None = None,
        heads: Iterable[int] | None = None,
        positions: Iterable[int] | None = None,
        lens_top_k: int = 10,
        lens_token: int | None = None,
    ) -> CaptureSpec:
        """A validated CaptureSpec from whatever form `trace` was given."""
        if isinstance(capture, CaptureSpec):
            spec = capture
        else:
            if capture is None:
                parts = DEFAULT_TRACE_PARTS
            elif capture == "all":
                parts = PARTS
            elif isinstance(capture, str):
                parts = (capture,)
            else:
                parts = tuple(capture)
            spec = CaptureSpec.of(
                *parts,
                layers=layers,
                heads=heads,
                positions=positions,
                lens_top_k=lens_top_k,
                lens_token=lens_token,
            )
        spec.validate(self.config)
        return spec

    def generate(
        self,
        ids: list[int],
        max_new_tokens: int = 64,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        capture: CaptureSpec | None = None,
        n_candidates: int = 10,
        should_stop: Callable[[], bool] | None = None,
        stop_at_end_of_text: bool = True,
        intervention: Intervention | None = None,
        quantize_bits: int | None = None,
    ) -> Iterator[Event]:
        """Stream a generation; an intervention or `quantize_bits` lets a changed model write."""
        if capture is not None:
            capture.validate(self.config)
        if intervention is not None:
            intervention.validate(self.config)
        return generate(
            self.model_for(quantize_bits),
            self.tokenizer,
            list(ids),
            max_new_tokens=max_new_tokens,
            settings=SamplingSettings(temperature=temperature, top_k=top_k or 0, top_p=top_p),
            seed=seed,
            capture=capture,
            n_candidates=n_candidates,
            should_stop=should_stop,
            stop_at_end_of_text=stop_at_end_of_text,
            intervention=intervention,
        )

    def describe(self) -> dict[str, Any]:
        """Architecture facts and parameter counts, for `inspect` and the model registry."""
        config = self.config
        transformer = self.model.transformer
        per_block = sum(p.numel() for p in transformer.h[0].parameters())
        return {
            "name": self.name,
            "format": self.source_format,
            "architecture": "gpt2",
            "config": config.to_dict(),
            "tokenizer": {"kind": self.tokenizer.kind, "n_vocab": self.tokenizer.n_vocab},
            "parameters": {
                "total": self.model.num_parameters(),
                "token_embedding": transformer.wte.weight.numel(),
                "position_embedding": transformer.wpe.weight.numel(),
                "per_block": per_block,
                "blocks": per_block * config.n_layer,
                "final_layer_norm": sum(p.numel() for p in transformer.ln_f.parameters()),
                "lm_head": "tied to token_embedding",
            },
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
        }
