"""The bigram table a model folder may ship: for every token, its most likely successors
under the smoothed bigram model (inference/bigram.py), for the lessons to draw.

The dense table of the bundled model is 16.8 M numbers; the file keeps each token's 50
most likely successors and the probability of all the others together. It is
`bigram.safetensors` beside the weights, holding

  next_ids    (V, N) int32    the successors, most likely first (ties: the smaller id)
  next_probs  (V, N) float16  their add-alpha-smoothed probabilities
  rest        (V,)   float32  the probability of every other token together
  row_counts  (V,)   int32    how often the token was followed by another in training
                              (0: never seen, so its row is the uniform distribution)

with the smoothing `alpha` in the metadata. Safetensors only, like the weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

TABLE_FILE = "bigram.safetensors"
TABLE_FORMAT = "glassbox-bigram"
TABLE_TOP_N = 50  # successors kept per token: what a lesson's bar chart can show
# the tensors of a table file: name -> (safetensors dtype, shape in terms of V and N)
TABLE_TENSORS = {
    "next_ids": ("I32", ("V", "N")),
    "next_probs": ("F16", ("V", "N")),
    "rest": ("F32", ("V",)),
    "row_counts": ("I32", ("V",)),
}
ROWS_PER_SORT = 512  # rows of the dense table sorted at once: 8 MB at V = 4,096


class BigramTableError(ValueError):
    """A bigram table file that does not fit the model it sits beside."""


@dataclass(frozen=True)
class BigramTable:
    """The smoothed bigram model, cut to each token's most likely successors."""

    next_ids: torch.Tensor  # (V, N) int32, most likely first; ties: the smaller id first
    next_probs: torch.Tensor  # (V, N) float16
    rest: torch.Tensor  # (V,) float32: 1 − the sum of the row's N exact probabilities
    row_counts: torch.Tensor  # (V,) int32
    alpha: float
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return self.next_ids.size(0)

    @property
    def kept(self) -> int:
        return self.next_ids.size(1)

    def after(self, token_id: int, k: int) -> tuple[list[int], torch.Tensor, float]:
        """(ids, probabilities (k,) float32, the probability of every other token) for the
        k most likely tokens after `token_id`."""
        if not 0 <= token_id < self.vocab_size:
            raise BigramTableError(f"token id {token_id} is outside the bigram table")
        k = min(k, self.kept)
        probs = self.next_probs[token_id].float()
        rest = float(self.rest[token_id]) + float(probs[k:].sum())
        return self.next_ids[token_id, :k].tolist(), probs[:k], rest


def bigram_table(
    counts: torch.Tensor, alpha: float, keep: int = TABLE_TOP_N, metadata=None
) -> BigramTable:
    """The top `keep` successors of every row of `counts` under add-alpha smoothing."""
    if not alpha > 0:
        raise BigramTableError("alpha must be positive: a token never seen has no row otherwise")
    vocab_size = counts.size(1)
    keep = min(keep, vocab_size)
    row_totals = counts.double().sum(dim=1)  # (V,)
    denominators = row_totals + alpha * vocab_size
    top_counts, top_ids = [], []
    for start in range(0, counts.size(0), ROWS_PER_SORT):
        rows = counts[start : start + ROWS_PER_SORT]
        # smoothing keeps the order of the counts; a stable sort breaks ties by id, so
        # the same corpus always writes the same file
        ordered, order = rows.sort(dim=1, descending=True, stable=True)
        top_counts.append(ordered[:, :keep].double())
        top_ids.append(order[:, :keep])
    probs = (torch.cat(top_counts) + alpha) / denominators[:, None]  # (V, N) float64
    return BigramTable(
        next_ids=torch.cat(top_ids).to(torch.int32),
        next_probs=probs.to(torch.float16),
        rest=(1.0 - probs.sum(dim=1)).clamp(min=0.0).float(),
        row_counts=row_totals.round().to(torch.int32),
        alpha=float(alpha),
        metadata=dict(metadata or {}),
    )


def save_bigram_table(table: BigramTable, path: str | Path) -> Path:
    path = Path(path)
    tensors = {
        "next_ids": table.next_ids.contiguous(),
        "next_probs": table.next_probs.contiguous(),
        "rest": table.rest.contiguous(),
        "row_counts": table.row_counts.contiguous(),
    }
    metadata = {**table.metadata, "format": TABLE_FORMAT, "alpha": repr(table.alpha)}
    save_file(tensors, str(path), metadata=metadata)
    return path


def check_table_header(header: dict[str, tuple[tuple[int, ...], str]], vocab_size: int) -> None:
    """The table's tensor names, dtypes and shapes must fit a vocabulary of `vocab_size`."""
    if set(header) != set(TABLE_TENSORS):
        raise BigramTableError(
            f"{TABLE_FILE} must hold exactly {', '.join(TABLE_TENSORS)}; it holds "
            f"{', '.join(sorted(header)) or 'nothing'}"
        )
    kept = header["next_ids"][0][-1] if len(header["next_ids"][0]) == 2 else 0
    sizes = {"V": vocab_size, "N": kept}
    if not 1 <= kept <= vocab_size:
        raise BigramTableError(f"{TABLE_FILE}: next_ids must be (vocabulary, successors)")
    for name, (dtype, dims) in TABLE_TENSORS.items():
        shape, found = header[name]
        wanted = tuple(sizes[d] for d in dims)
        if found != dtype or shape != wanted:
            raise BigramTableError(
                f"{TABLE_FILE}: {name} is {found} {list(shape)}; this model needs "
                f"{dtype} {list(wanted)} (vocabulary {vocab_size})"
            )


def read_table_header(path: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Tensor name -> (shape, safetensors dtype), without reading the numbers."""
    with safe_open(str(path), framework="pt") as handle:
        return {
            name: (tuple(handle.get_slice(name).get_shape()), handle.get_slice(name).get_dtype())
            for name in handle.keys()  # noqa: SIM118 (not a dict)
        }


def read_bigram_table(path: str | Path, vocab_size: int) -> BigramTable:
    """Load a table file and check it against the model's vocabulary, values included."""
    check_table_header(read_table_header(path), vocab_size)
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata() or {})
        tensors = {name: handle.get_tensor(name) for name in TABLE_TENSORS}
    ids, probs = tensors["next_ids"], tensors["next_probs"]
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise BigramTableError(f"{TABLE_FILE}: next_ids holds ids outside the vocabulary")
    if not torch.isfinite(probs).all() or float(probs.min()) < 0 or float(probs.max()) > 1:
        raise BigramTableError(f"{TABLE_FILE}: next_probs must hold probabilities")
    try:
        alpha = float(metadata["alpha"])
    except (KeyError, ValueError):
        raise BigramTableError(f"{TABLE_FILE}: its metadata gives no smoothing alpha") from None
    return BigramTable(
        next_ids=ids,
        next_probs=probs,
        rest=tensors["rest"],
        row_counts=tensors["row_counts"],
        alpha=alpha,
        metadata=metadata,
    )
