"""The neuron examples a model folder may ship: for every MLP neuron of every layer, the
few places in a fixed sample of held-out text where it fired hardest, each with the
tokens around it, for lesson 8's "what excites this neuron?".

A forward pass over the student's text shows what a neuron does there; what a neuron is
*for* shows better over a longer text, and that pass is too slow to run per request. So
`build` runs the model once over a fixed sample (evenly spaced windows of the validation
plays) and keeps, per neuron, its `K` highest values after the GELU, at places at least a
window apart (so one hot phrase does not fill every slot). The file is
`neurons.safetensors` beside the weights, holding

  token_ids  (L, N, K, W) int16/int32  the window: BEFORE tokens, the exciting token, AFTER;
                                       -1 where the window runs past its sample segment
  values     (L, N, K)    float16      the neuron's value after the GELU at the exciting token
  positions  (L, N, K)    int32        where the exciting token sits in the sample

with L layers, N = the MLP width, K examples and W = BEFORE + 1 + AFTER; the metadata
holds the format name, BEFORE and AFTER, a sentence describing the sample and the SHA-256
of the weights file it was computed from: a file that does not match the weights beside
it is refused (its examples would describe another model). Safetensors only.

    python -m inference.neuron_examples build --model models/shakespeare --data data/shakespeare
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .capture import CaptureSpec

EXAMPLES_FILE = "neurons.safetensors"
EXAMPLES_FORMAT = "glassbox-neuron-examples"
WEIGHTS_FILE = "model.safetensors"
KEEP = 6  # examples per neuron: what the lesson's list shows
BEFORE, AFTER = 8, 2  # tokens of context kept around the exciting token
SEGMENTS, SEGMENT_TOKENS = 192, 256  # the sample: 192 windows of 256 tokens = 49,152 tokens
CANDIDATES = 64  # per neuron and batch: enough to find KEEP well-separated maxima
BATCH = 8  # segments per forward pass
PAD = -1  # a window slot outside the sample segment
INT16_MAX = 2**15 - 1
ID_DTYPES = ("I16", "I32")


class NeuronExamplesError(ValueError):
    """A neuron examples file that is unreadable or does not fit the model beside it."""


@dataclass(frozen=True)
class NeuronExamples:
    """Each neuron's strongest activations over the sample, with their token windows."""

    token_ids: torch.Tensor  # (L, N, K, W) int, PAD outside the segment
    values: torch.Tensor  # (L, N, K) float16, largest first
    positions: torch.Tensor  # (L, N, K) int32
    before: int
    after: int
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(layers, neurons per layer, examples per neuron)."""
        n_layer, width, keep = self.values.shape
        return n_layer, width, keep

    def examples(self, layer: int, neuron: int) -> list[dict]:
        """The stored examples of one neuron: value, sample position, window ids (no PAD,
        with `index` the exciting token's place in them)."""
        n_layer, width, _ = self.shape
        if not (0 <= layer < n_layer and 0 <= neuron < width):
            raise NeuronExamplesError(
                f"there is no neuron {neuron} in layer {layer}: layers go from 0 to "
                f"{n_layer - 1} and neurons from 0 to {width - 1}"
            )
        found = []
        for rank in range(self.values.size(2)):
            window = self.token_ids[layer, neuron, rank].tolist()
            start = next(i for i, token in enumerate(window) if token != PAD)
            ids = [token for token in window if token != PAD]
            found.append(
                {
                    "value": float(self.values[layer, neuron, rank]),
                    "position": int(self.positions[layer, neuron, rank]),
                    "ids": ids,
                    "index": self.before - start,
                }
            )
        return found


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(2**20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sample_segments(ids: list[int], segments: int, length: int) -> list[list[int]]:
    """`segments` windows of `length` tokens each, evenly spaced from the first token to
    the last (fewer when the text is short; one, the whole text, when it is shorter than
    `length`), so the sample covers every held-out play."""
    if len(ids) <= length:
        return [list(ids)]
    count = max(1, min(segments, len(ids) // length))
    last_start = len(ids) - length
    starts = sorted({round(i * last_start / max(1, count - 1)) for i in range(count)})
    return [list(ids[s : s + length]) for s in starts]


def top_activations(model, segments: list[list[int]], keep: int, gap: int):
    """(values, positions), each (L, N, keep): per neuron, its largest values after the
    GELU over the segments, at sample positions at least `gap` apart (the concatenated
    segments number the positions)."""
    config = model.config
    spec = CaptureSpec.of("mlp_post")
    best_values, best_positions = None, None
    offset = 0
    device = next(model.parameters()).device
    for start in range(0, len(segments), BATCH):
        tokens = torch.tensor(segments[start : start + BATCH], dtype=torch.long, device=device)
        with torch.inference_mode():
            post = model(tokens, capture=spec, last_logits_only=True).captured["mlp_post"]
        # (L, B, T, N) -> (L, N, B*T): each neuron's values in sample order
        post = post.float().permute(0, 3, 1, 2).reshape(config.n_layer, post.size(-1), -1)
        values, where = post.topk(min(CANDIDATES, post.size(-1)), dim=-1)
        where = where + offset
        if best_values is not None:
            values = torch.cat([best_values, values], dim=-1)
            where = torch.cat([best_positions, where], dim=-1)
            order = values.argsort(dim=-1, descending=True, stable=True)[..., :CANDIDATES]
            values, where = values.gather(-1, order), where.gather(-1, order)
        best_values, best_positions = values, where
        offset += tokens.numel()
    return separated(best_values, best_positions, keep, gap)


def separated(values: torch.Tensor, positions: torch.Tensor, keep: int, gap: int):
    """From candidates sorted largest first, the first `keep` at least `gap` apart; when
    too few are, the next largest fill the slots."""
    n_layer, width, _ = values.shape
    out_values = torch.empty(n_layer, width, keep, dtype=torch.float32)
    out_positions = torch.empty(n_layer, width, keep, dtype=torch.int64)
    for layer in range(n_layer):
        vals, poss = values[layer].tolist(), positions[layer].tolist()
        for neuron in range(width):
            chosen: list[int] = []
            for i, p in enumerate(poss[neuron]):
                if all(abs(p - poss[neuron][j]) >= gap for j in chosen):
                    chosen.append(i)
                if len(chosen) == keep:
                    break
            rest = [i for i in range(len(poss[neuron])) if i not in chosen]
            chosen = sorted(chosen + rest[: keep - len(chosen)])
            out_values[layer, neuron] = torch.tensor([vals[neuron][i] for i in chosen])
            out_positions[layer, neuron] = torch.tensor([poss[neuron][i] for i in chosen])
    return out_values, out_positions


def windows(segments: list[list[int]], positions: torch.Tensor, before: int, after: int):
    """(…, before + 1 + after) token ids around each sample position, PAD outside its
    segment (the model saw nothing before the segment's start)."""
    flat, segment_of, start_of = [], [], []
    for index, segment in enumerate(segments):
        start_of.extend([len(flat)] * len(segment))
        segment_of.extend([index] * len(segment))
        flat.extend(segment)
    ends = [start_of[i] + len(segments[segment_of[i]]) for i in range(len(flat))]
    out = []
    for p in positions.flatten().tolist():
        row = []
        for q in range(p - before, p + after + 1):
            inside = start_of[p] <= q < ends[p]
            row.append(flat[q] if inside else PAD)
        out.append(row)
    return torch.tensor(out, dtype=torch.int64).reshape(*positions.shape, before + 1 + after)


def build_examples(
    model,
    ids: list[int],
    *,
    weights_sha256: str,
    sample: str,
    keep: int = KEEP,
    before: int = BEFORE,
    after: int = AFTER,
    segments: int = SEGMENTS,
    segment_tokens: int = SEGMENT_TOKENS,
) -> NeuronExamples:
    """Run `model` over the fixed sample of `ids` and keep each neuron's top examples."""
    model.eval()
    parts = sample_segments(ids, segments, min(segment_tokens, model.config.block_size))
    if sum(len(p) for p in parts) < keep:
        raise NeuronExamplesError(f"the sample has fewer than {keep} tokens")
    values, positions = top_activations(model, parts, keep, gap=before + 1 + after)
    tokens = sum(len(p) for p in parts)
    id_dtype = torch.int16 if model.config.vocab_size <= INT16_MAX else torch.int32
    return NeuronExamples(
        token_ids=windows(parts, positions, before, after).to(id_dtype),
        values=values.to(torch.float16),
        positions=positions.to(torch.int32),
        before=before,
        after=after,
        metadata={
            "weights_sha256": weights_sha256,
            "sample": f"{sample}: {len(parts)} evenly spaced windows of {len(parts[0])} "
            f"tokens, {tokens:,} tokens in all",
            "sample_tokens": str(tokens),
        },
    )


def save_examples(examples: NeuronExamples, path: str | Path) -> Path:
    path = Path(path)
    tensors = {
        "token_ids": examples.token_ids.contiguous(),
        "values": examples.values.contiguous(),
        "positions": examples.positions.contiguous(),
    }
    metadata = {
        **examples.metadata,
        "format": EXAMPLES_FORMAT,
        "before": str(examples.before),
        "after": str(examples.after),
    }
    save_file(tensors, str(path), metadata=metadata)
    return path


def _fail(problem: str) -> NeuronExamplesError:
    return NeuronExamplesError(f"{EXAMPLES_FILE}: {problem}")


def read_examples(
    path: str | Path, *, n_layer: int, width: int, vocab_size: int, weights_sha256: str
) -> NeuronExamples:
    """Load an examples file and check it against the model: its shapes, its ids, and the
    checksum of the weights it was computed from."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            names = set(handle.keys())
            if names != {"token_ids", "values", "positions"}:
                raise _fail(f"must hold token_ids, values and positions; it holds {sorted(names)}")
            tensors = {name: handle.get_tensor(name) for name in names}
    except (SafetensorError, OSError) as exc:
        raise _fail(f"not a readable safetensors file ({exc})") from None
    if metadata.get("format") != EXAMPLES_FORMAT:
        raise _fail(f"its format is {metadata.get('format')!r}, not {EXAMPLES_FORMAT!r}")
    if metadata.get("weights_sha256") != weights_sha256:
        raise _fail(
            "it was computed from other weights than the ones beside it (their SHA-256 "
            "differs); rebuild it with `python -m inference.neuron_examples build`"
        )
    try:
        before, after = int(metadata["before"]), int(metadata["after"])
    except (KeyError, ValueError):
        raise _fail("its metadata gives no window size (before, after)") from None
    ids, values, positions = tensors["token_ids"], tensors["values"], tensors["positions"]
    if values.dim() != 3 or values.dtype != torch.float16:
        raise _fail("values must be float16 (layers, neurons, examples)")
    if tuple(values.shape[:2]) != (n_layer, width):
        raise _fail(
            f"values is {list(values.shape)}; this model has {n_layer} layers of {width} neurons"
        )
    if ids.dtype not in (torch.int16, torch.int32) or tuple(ids.shape) != (
        *values.shape,
        before + 1 + after,
    ):
        raise _fail(f"token_ids must be int16 or int32 {[*values.shape, before + 1 + after]}")
    if positions.dtype != torch.int32 or positions.shape != values.shape:
        raise _fail(f"positions must be int32 {list(values.shape)}")
    if int(ids.min()) < PAD or int(ids.max()) >= vocab_size or (ids[..., before] == PAD).any():
        raise _fail("token_ids holds ids outside the vocabulary")
    if not torch.isfinite(values.float()).all():
        raise _fail("values holds NaN or infinite numbers")
    return NeuronExamples(
        token_ids=ids,
        values=values,
        positions=positions,
        before=before,
        after=after,
        metadata=metadata,
    )


NO_EXAMPLES_SENTENCE = "This model ships no neuron examples ({file} beside its weights)."


def load_beside(folder: Path | None, config, width: int) -> NeuronExamples:
    """The examples file in a model folder, checked against the weights there."""
    if folder is None or not (folder / EXAMPLES_FILE).is_file():
        raise NeuronExamplesError(NO_EXAMPLES_SENTENCE.format(file=EXAMPLES_FILE))
    return read_examples(
        folder / EXAMPLES_FILE,
        n_layer=config.n_layer,
        width=width,
        vocab_size=config.vocab_size,
        weights_sha256=file_sha256(folder / WEIGHTS_FILE),
    )


def build_command(model_dir: Path, data_dir: Path, out: Path | None) -> Path:
    """Build the examples file of a model folder from the validation plays."""
    from .checkpoint import load_model
    from .data import load_split

    lm = load_model(model_dir, device="cpu", dtype=torch.float32)
    text = load_split(data_dir, "val")
    examples = build_examples(
        lm.model,
        lm.tokenizer.encode(text),
        weights_sha256=file_sha256(model_dir / WEIGHTS_FILE),
        sample="the held-out validation plays, which the model never trained on",
    )
    # which text it was, exactly, for whoever rebuilds the file
    examples.metadata["sample_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    return save_examples(examples, out or model_dir / EXAMPLES_FILE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m inference.neuron_examples", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help=f"write MODEL/{EXAMPLES_FILE}")
    build.add_argument("--model", type=Path, default=Path("models/shakespeare"))
    build.add_argument("--data", type=Path, default=Path("data/shakespeare"))
    build.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    path = build_command(args.model, args.data, args.out)
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
