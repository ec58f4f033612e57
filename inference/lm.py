"""LanguageModel: a loaded GPT with its tokenizer, and the calls the rest of Glassbox uses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from .config import GPTConfig
from .generate import Event, GenerationError, generate
from .model import GPT
from .sampling import SamplingSettings
from .tokenizer import Tokenizer


@dataclass
class Trace:
    """Everything one forward pass over a sequence shows (batch dimension removed)."""

    ids: list[int]
    logits: torch.Tensor  # (T, vocab)
    attention: torch.Tensor  # (n_layer, n_head, T, T); row = query, column = key
    residuals: torch.Tensor  # (n_layer + 1, T, n_embd); [0] = embeddings, [i] = after block i


@dataclass
class LanguageModel:
    """A GPT, its tokenizer and what is known about where it came from."""

    model: GPT
    tokenizer: Tokenizer
    name: str = "model"
    source_format: str = "bundle"  # "bundle" or "huggingface"
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> GPTConfig:
        return self.model.config

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def trace(self, ids: list[int]) -> Trace:
        """Run the model once over `ids` and keep every attention map and residual."""
        if not ids:
            raise GenerationError("cannot trace an empty sequence")
        if len(ids) > self.config.block_size:
            raise GenerationError(
                f"{len(ids)} tokens is longer than the context ({self.config.block_size})"
            )
        self.model.eval()
        with torch.inference_mode():
            out = self.model(
                torch.tensor([list(ids)], dtype=torch.long, device=self.device),
                capture_attention=True,
                capture_residuals=True,
            )
        return Trace(
            ids=list(ids),
            logits=out.logits[0].float().cpu(),
            attention=out.attentions[:, 0].float().cpu(),
            residuals=out.residuals[:, 0].float().cpu(),
        )

    def generate(
        self,
        ids: list[int],
        max_new_tokens: int = 64,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int | None = None,
        capture_attention: bool = False,
        n_candidates: int = 10,
        should_stop: Callable[[], bool] | None = None,
        stop_at_end_of_text: bool = True,
    ) -> Iterator[Event]:
        return generate(
            self.model,
            self.tokenizer,
            list(ids),
            max_new_tokens=max_new_tokens,
            settings=SamplingSettings(temperature=temperature, top_k=top_k or 0, top_p=top_p),
            seed=seed,
            capture_attention=capture_attention,
            n_candidates=n_candidates,
            should_stop=should_stop,
            stop_at_end_of_text=stop_at_end_of_text,
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
