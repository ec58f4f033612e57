"""The token embedding table (wte) read as geometry: nearest neighbours by cosine
similarity, the analogy a − b + c, and a 2-D map by the table's two principal components.

This is what the lessons on vectors and embeddings draw. Nothing here writes to the
weights: a loaded model is shared by every request on a worker, so the unit-length copy
and the principal components are new tensors, made once per model and kept
(`LanguageModel.embedding_space`). Only ids the tokenizer can decode are ever answered;
a vocabulary padded beyond the tokenizer has rows that are no token at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch.nn import functional as F

from .block_topk import block_topk

# Neighbours are ranked a few prompt positions per matrix multiply, at most this many
# similarities at once (16 MB of float32): GPT-2's 50,257 rows for 80 positions.
NEIGHBOUR_CHUNK_SCORES = 1 << 22
MAP_DIMENSIONS = 2


class EmbeddingSpaceError(ValueError):
    """A question the embedding table cannot answer (an id outside it, too few tokens)."""


@dataclass(frozen=True)
class Analogy:
    """The tokens nearest to E[a] − E[b] + E[c], with and without a, b and c themselves."""

    a: int
    b: int
    c: int
    with_inputs: list[tuple[int, float]]  # (id, cosine), most similar first, over every token
    without_inputs: list[tuple[int, float]]  # the same with a, b and c left out


@dataclass(frozen=True)
class EmbeddingMap:
    """The embedding table's two principal directions, to place any token on a plane."""

    mean: torch.Tensor  # (C,) float64: the table's mean row, the map's origin
    components: torch.Tensor  # (2, C) float64, unit rows, the first explains the most
    explained: tuple[float, float]  # each component's share of the table's variance

    def project(self, rows: torch.Tensor) -> torch.Tensor:
        """(N, 2) map coordinates of (N, C) embedding rows."""
        return (rows.detach().double().cpu() - self.mean) @ self.components.T


class EmbeddingSpace:
    """Similarity questions about one model's token embeddings."""

    def __init__(self, wte: torch.Tensor, known_ids: list[int]):
        # reading a shared parameter is safe; every result below is a new tensor
        self.rows = wte.detach()  # (V, C)
        vocab_size = self.rows.size(0)
        self.unit_rows = F.normalize(self.rows.float(), dim=-1)  # (V, C), a copy
        self.candidates = torch.zeros(vocab_size, dtype=torch.bool, device=self.rows.device)
        self.candidates[[i for i in known_ids if 0 <= i < vocab_size]] = True
        self.n_candidates = int(self.candidates.sum())

    @property
    def vocab_size(self) -> int:
        return self.rows.size(0)

    def check_ids(self, ids: list[int]) -> None:
        bad = [i for i in ids if not 0 <= i < self.vocab_size or not self.candidates[i]]
        if bad:
            raise EmbeddingSpaceError(f"token id {bad[0]} is not a token of this model")

    def neighbours(self, ids: list[int], k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (T, k) long, cosines (T, k) float32) on the CPU: for each token, the k other
        tokens whose rows point most nearly its way, most similar first."""
        self.check_ids(ids)
        k = min(k, self.n_candidates - 1)
        if k < 1:
            raise EmbeddingSpaceError("this vocabulary has no other token to compare with")
        query = torch.tensor(ids, dtype=torch.long, device=self.rows.device)
        per_chunk = max(1, NEIGHBOUR_CHUNK_SCORES // self.vocab_size)
        found_ids, found_cosines = [], []
        for start in range(0, len(ids), per_chunk):
            chunk = query[start : start + per_chunk]
            cosines = self.unit_rows[chunk] @ self.unit_rows.T  # (n, V): unit rows, so cosines
            cosines.masked_fill_(~self.candidates, -torch.inf)
            cosines.scatter_(1, chunk[:, None], -torch.inf)  # a token is not its own neighbour
            top_cosines, top_ids = block_topk(cosines, k)
            found_ids.append(top_ids.cpu())
            found_cosines.append(top_cosines.float().cpu())
        return torch.cat(found_ids), torch.cat(found_cosines)

    def analogy(self, a: int, b: int, c: int, k: int) -> Analogy:
        """The k tokens w with the largest cos(E[a] − E[b] + E[c], E[w]).

        Both lists are kept: without leaving a, b and c out, the top hit is usually a
        itself (king − man + woman is still nearest to king), and a lesson should show it.
        """
        self.check_ids([a, b, c])
        k = min(k, self.n_candidates - len({a, b, c}))
        if k < 1:
            raise EmbeddingSpaceError("this vocabulary has no other token to compare with")
        rows = self.rows.float()
        target = F.normalize(rows[a] - rows[b] + rows[c], dim=-1)  # (C,)
        cosines = (self.unit_rows @ target).masked_fill(~self.candidates, -torch.inf)  # (V,)
        with_inputs = _ranked(cosines, k)
        cosines[[a, b, c]] = -torch.inf
        return Analogy(a, b, c, with_inputs, _ranked(cosines, k))

    @cached_property
    def map(self) -> EmbeddingMap:
        """The two principal components of the centred table, computed on first use.

        The rows the tokenizer can produce are the table (padding rows never trained);
        float64 on the CPU, so that every machine draws the same map.
        """
        table = self.rows[self.candidates].double().cpu()  # (N, C)
        mean = table.mean(dim=0)
        centred = table - mean
        # the singular vectors of the (C, C) scatter matrix are the principal directions,
        # its singular values the variance along each: half the work of an SVD of the
        # whole (N, C) table for GPT-2, and exact in float64
        _, variances, directions = torch.linalg.svd(centred.T @ centred)
        components = directions[:MAP_DIMENSIONS].clone()
        # a direction is only defined up to its sign: make each one's largest coordinate
        # positive, so that the map never comes out mirrored on another run or machine
        largest = components.abs().argmax(dim=1, keepdim=True)
        components *= components.gather(1, largest).sign()
        total = float(variances.sum())
        explained = [float(v) / total if total > 0 else 0.0 for v in variances[:MAP_DIMENSIONS]]
        explained += [0.0] * (MAP_DIMENSIONS - len(explained))
        return EmbeddingMap(mean=mean, components=components, explained=tuple(explained))

    def coordinates(self, ids: list[int]) -> torch.Tensor:
        """(N, 2) map coordinates of these tokens."""
        self.check_ids(ids)
        index = torch.tensor(ids, dtype=torch.long, device=self.rows.device)
        return self.map.project(self.rows[index])


def _ranked(scores: torch.Tensor, k: int) -> list[tuple[int, float]]:
    values, ids = scores.topk(k)
    return list(zip(ids.tolist(), values.float().tolist(), strict=True))
