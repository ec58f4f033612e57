"""The one sampler: logits -> a distribution (temperature, top-k, top-p) -> a token and a report.

The report keeps both distributions a student wants to compare: the model's own
("raw": softmax at temperature 1) and the one actually sampled from ("final").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

MAX_TEMPERATURE = 5.0


class SamplingError(ValueError):
    """A sampling setting outside its range."""


@dataclass(frozen=True)
class SamplingSettings:
    """How to turn logits into a choice. temperature 0 = always the most likely token."""

    temperature: float = 1.0
    top_k: int = 0  # keep only the k most likely tokens; 0 = off
    top_p: float = 1.0  # keep the smallest set whose probability reaches p; 1 = off

    def validate(self, vocab_size: int | None = None) -> None:
        if not isinstance(self.temperature, (int, float)) or not (
            0.0 <= self.temperature <= MAX_TEMPERATURE
        ):
            raise SamplingError(f"temperature must be between 0 and {MAX_TEMPERATURE}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise SamplingError("top_k must be a whole number, 0 (off) or more")
        if vocab_size is not None and self.top_k > vocab_size:
            raise SamplingError(f"top_k cannot exceed the vocabulary size ({vocab_size})")
        if not isinstance(self.top_p, (int, float)) or not (0.0 < self.top_p <= 1.0):
            raise SamplingError("top_p must be greater than 0 and at most 1")


@dataclass(frozen=True)
class Candidate:
    token_id: int
    raw_prob: float  # softmax of the logits at temperature 1
    prob: float  # after temperature, top-k and top-p: what the sample was drawn from


@dataclass(frozen=True)
class SampleReport:
    """One sampling step, as the playground shows it."""

    token_id: int
    rank: int  # 0 = the model's most likely token
    raw_prob: float
    prob: float
    entropy: float  # bits, of the final distribution
    raw_entropy: float  # bits, of the raw distribution
    kept: int  # how many tokens had a non-zero chance after filtering
    candidates: list[Candidate]


def entropy_bits(probs: torch.Tensor) -> float:
    nonzero = probs[probs > 0]
    return float(-(nonzero * nonzero.log()).sum()) / math.log(2)


def final_distribution(logits: torch.Tensor, settings: SamplingSettings) -> torch.Tensor:
    """The distribution to sample from, for a 1-D tensor of logits (float32)."""
    logits = logits.float()
    vocab_size = logits.numel()
    if settings.temperature == 0:
        probs = torch.zeros(vocab_size)
        probs[int(torch.argmax(logits))] = 1.0
        return probs

    probs = F.softmax(logits / settings.temperature, dim=-1)
    # a stable sort so that ties keep a fixed order and top-k keeps exactly k tokens
    sorted_probs, sorted_ids = torch.sort(probs, descending=True, stable=True)
    keep = torch.ones(vocab_size, dtype=torch.bool)
    if settings.top_k:
        keep[settings.top_k :] = False
    if settings.top_p < 1.0:
        kept_probs = sorted_probs * keep
        kept_probs = kept_probs / kept_probs.sum()
        mass_before = torch.cumsum(kept_probs, dim=0) - kept_probs
        # keep each token while the ones before it have not yet reached p
        keep &= mass_before < settings.top_p
    filtered = sorted_probs * keep
    filtered = filtered / filtered.sum()
    return torch.zeros(vocab_size).scatter(0, sorted_ids, filtered)


def sample(
    logits: torch.Tensor,
    settings: SamplingSettings,
    generator: torch.Generator | None = None,
    n_candidates: int = 10,
) -> SampleReport:
    """Choose the next token from a 1-D tensor of logits and say how it was chosen."""
    logits = logits.detach().float().cpu()
    raw_probs = F.softmax(logits, dim=-1)
    probs = final_distribution(logits, settings)
    if settings.temperature == 0:
        token_id = int(torch.argmax(probs))
    else:
        token_id = int(torch.multinomial(probs, 1, generator=generator))

    top_probs, top_ids = torch.topk(raw_probs, min(n_candidates, raw_probs.numel()))
    candidates = [
        Candidate(token_id=int(i), raw_prob=float(p), prob=float(probs[i]))
        for p, i in zip(top_probs, top_ids, strict=True)
    ]
    return SampleReport(
        token_id=token_id,
        rank=int((raw_probs > raw_probs[token_id]).sum()),
        raw_prob=float(raw_probs[token_id]),
        prob=float(probs[token_id]),
        entropy=entropy_bits(probs),
        raw_entropy=entropy_bits(raw_probs),
        kept=int((probs > 0).sum()),
        candidates=candidates,
    )
