"""Model directories on disk: our bundles and Hugging Face GPT-2 directories.

A bundle is a directory with
  config.json        {"format": "glassbox-bundle", "format_version": 1, "model": {...},
                      "tokenizer": {"type": "rank_file", "file": ..., "special_tokens": {...}}}
  model.safetensors  the weights, nanoGPT names, lm_head omitted (it is tied to wte)
  tokenizer.tiktoken the BPE ranks in tiktoken's format
  card.json          what the model is: data, training, losses, samples
  bigram.safetensors optional: the bigram model's top successors per token (bigram.py)

A Hugging Face GPT-2 directory is config.json + model.safetensors + vocab.json +
merges.txt, loaded as is (its Conv1D weights are stored transposed). Either may carry a
bigram table; a folder without one is a complete model all the same.

Weights are only ever read through safetensors. Pickle files are refused, never opened.
Validation reads the configs and the safetensors header first, so that a bad upload is
reported without loading any weights.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .bigram_table import (
    TABLE_FILE,
    BigramTable,
    BigramTableError,
    check_table_header,
    read_bigram_table,
    read_table_header,
)
from .config import ConfigError, GPTConfig
from .lm import LanguageModel
from .model import GPT
from .tokenizer import END_OF_TEXT, Tokenizer, TokenizerError, write_rank_file

BUNDLE_FORMAT = "glassbox-bundle"
BUNDLE_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "card.json"
RANK_FILE = "tokenizer.tiktoken"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
FLOAT_DTYPES = {"F32", "F16", "BF16"}
# Hugging Face GPT-2 keeps these Conv1D weights as (in, out); nn.Linear wants (out, in).
HF_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# Old GPT-2 files carry the causal mask as a buffer; it is not a weight.
HF_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")
HF_TANH_GELU = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")


class CheckpointError(ValueError):
    """A model directory that cannot be used, with a code a program can act on."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class CheckpointInfo:
    """What validation learned about a model directory without loading its weights."""

    path: Path
    source_format: str  # "bundle" or "huggingface"
    config: GPTConfig
    tokenizer_kind: str
    n_vocab: int  # ids the tokenizer can produce
    parameters: int
    weights_bytes: int
    card: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.source_format,
            "architecture": "gpt2",
            "config": self.config.to_dict(),
            "tokenizer_kind": self.tokenizer_kind,
            "n_vocab": self.n_vocab,
            "parameters": self.parameters,
            "weights_bytes": self.weights_bytes,
        }


# -- reading ------------------------------------------------------------------------------


def _refuse_pickle(path: Path) -> None:
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise CheckpointError(
            "pickle_refused",
            f"{path.name} is a pickle file; Glassbox only loads weights from .safetensors "
            "files, because unpickling can run arbitrary code",
        )


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError("missing_file", f"{path.name} is missing from {path.parent}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError("bad_json", f"{path.name} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CheckpointError("bad_json", f"{path.name} must hold a JSON object")
    return data


def detect_format(path: str | Path) -> str:
    """'bundle' or 'huggingface', or a CheckpointError saying why it is neither."""
    path = Path(path)
    _refuse_pickle(path)
    if not path.exists():
        raise CheckpointError("not_found", f"no model directory at {path}")
    if not path.is_dir():
        raise CheckpointError("unknown_format", f"{path} is not a directory")
    if not (path / WEIGHTS_FILE).is_file():
        pickles = sorted(p.name for p in path.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if pickles:
            raise CheckpointError(
                "pickle_refused",
                f"{path} has only pickle weights ({', '.join(pickles)}); convert them to "
                f"{WEIGHTS_FILE} first, Glassbox never unpickles files",
            )
        raise CheckpointError("missing_file", f"{WEIGHTS_FILE} is missing from {path}")
    config = _read_json(path / CONFIG_FILE)
    if config.get("format") == BUNDLE_FORMAT:
        return "bundle"
    if config.get("model_type") == "gpt2" or "GPT2LMHeadModel" in config.get("architectures", []):
        return "huggingface"
    raise CheckpointError(
        "unknown_format",
        f"{path / CONFIG_FILE} is neither a Glassbox bundle config nor a GPT-2 config",
    )


def _bundle_config(path: Path) -> tuple[GPTConfig, dict[str, Any]]:
    data = _read_json(path / CONFIG_FILE)
    version = data.get("format_version")
    if version != BUNDLE_FORMAT_VERSION:
        raise CheckpointError(
            "bad_config", f"bundle format_version {version!r} is not supported (expected 1)"
        )
    try:
        config = GPTConfig.from_dict(data.get("model"))
    except (ConfigError, TypeError) as exc:
        raise CheckpointError("bad_config", f"config.json 'model': {exc}") from None
    tokenizer_spec = data.get("tokenizer")
    if not isinstance(tokenizer_spec, dict):
        raise CheckpointError("bad_config", "config.json needs a 'tokenizer' object")
    return config, tokenizer_spec


def _bundle_tokenizer(path: Path, spec: dict[str, Any]) -> Tokenizer:
    kind = spec.get("type")
    try:
        if kind == "rank_file":
            file_name = spec.get("file", RANK_FILE)
            if not isinstance(file_name, str) or Path(file_name).name != file_name:
                raise CheckpointError("bad_config", "tokenizer 'file' must be a plain file name")
            if spec.get("pattern", "gpt2") != "gpt2":
                raise CheckpointError(
                    "bad_config", "only the 'gpt2' pre-tokenization pattern is supported"
                )
            specials = spec.get("special_tokens", {})
            if not isinstance(specials, dict) or not all(
                isinstance(k, str) and isinstance(v, int) for k, v in specials.items()
            ):
                raise CheckpointError(
                    "bad_config", "tokenizer 'special_tokens' must map text to ids"
                )
            if not (path / file_name).is_file():
                raise CheckpointError("missing_file", f"{file_name} is missing from {path}")
            return Tokenizer.from_rank_file(path / file_name, specials, name=path.name)
        if kind == "tiktoken":
            return Tokenizer.from_tiktoken_name(str(spec.get("name")))
    except TokenizerError as exc:
        raise CheckpointError("bad_tokenizer", str(exc)) from None
    raise CheckpointError("bad_config", f"unknown tokenizer type {kind!r}")


def _hf_config(path: Path) -> GPTConfig:
    data = _read_json(path / CONFIG_FILE)
    activation = data.get("activation_function", "gelu_new")
    if activation not in HF_TANH_GELU:
        raise CheckpointError(
            "bad_config", f"activation_function {activation!r} is not GPT-2's tanh GELU"
        )
    n_embd = data.get("n_embd")
    if data.get("n_inner") not in (None, 4 * n_embd if isinstance(n_embd, int) else None):
        raise CheckpointError("bad_config", "n_inner must be 4 * n_embd (GPT-2's MLP width)")
    if data.get("scale_attn_by_inverse_layer_idx") or data.get("add_cross_attention"):
        raise CheckpointError(
            "bad_config", "this GPT-2 variant changes the attention; not supported"
        )
    if data.get("tie_word_embeddings", True) is False:
        raise CheckpointError(
            "bad_config", "GPT-2 ties lm_head to wte; untied heads are not supported"
        )
    try:
        return GPTConfig.from_dict(
            {
                "vocab_size": data.get("vocab_size"),
                "block_size": data.get("n_positions", data.get("n_ctx")),
                "n_layer": data.get("n_layer"),
                "n_head": data.get("n_head"),
                "n_embd": n_embd,
                "layer_norm_epsilon": data.get("layer_norm_epsilon", 1e-5),
            }
        )
    except (ConfigError, TypeError) as exc:
        raise CheckpointError("bad_config", f"config.json: {exc}") from None


def _hf_tokenizer(path: Path) -> Tokenizer:
    for name in ("vocab.json", "merges.txt"):
        if not (path / name).is_file():
            raise CheckpointError("missing_file", f"{name} is missing from {path}")
    try:
        return Tokenizer.from_huggingface(path / "vocab.json", path / "merges.txt")
    except TokenizerError as exc:
        raise CheckpointError("bad_tokenizer", str(exc)) from None


def _hf_to_ours(name: str) -> str | None:
    """Our parameter name for a Hugging Face GPT-2 tensor name; None to skip it."""
    name = name.removeprefix("transformer.")
    if name == "lm_head.weight" or name.endswith(HF_IGNORED_SUFFIXES):
        return None
    return "transformer." + name


def expected_shapes(config: GPTConfig) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape for a bundle of this config (lm_head omitted: it is tied)."""
    with torch.device("meta"):  # shapes only: nothing is allocated
        model = GPT(config)
    return {
        name: tuple(tensor.shape)
        for name, tensor in model.state_dict().items()
        if name != "lm_head.weight"
    }


def _read_header(weights: Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """Tensor name -> (shape, dtype) from the safetensors header, without reading data."""
    try:
        with safe_open(str(weights), framework="pt") as handle:
            return {
                name: (
                    tuple(handle.get_slice(name).get_shape()),
                    handle.get_slice(name).get_dtype(),
                )
                for name in handle.keys()  # noqa: SIM118 (not a dict)
            }
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            "bad_weights", f"{weights.name} is not a readable safetensors file: {exc}"
        ) from None


def _check_tensors(
    header: dict[str, tuple[tuple[int, ...], str]], config: GPTConfig, huggingface: bool
) -> None:
    expected = expected_shapes(config)
    found: dict[str, tuple[int, ...]] = {}
    for name, (shape, dtype) in header.items():
        ours = _hf_to_ours(name) if huggingface else name
        if ours is None:
            continue
        if dtype not in FLOAT_DTYPES:
            raise CheckpointError("bad_weights", f"tensor {name} has dtype {dtype}, not a float")
        if huggingface and ours.endswith(HF_TRANSPOSED) and len(shape) == 2:
            shape = (shape[1], shape[0])
        found[ours] = shape
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise CheckpointError(
            "tensor_mismatch",
            f"{len(unexpected)} tensor(s) do not belong to this config, e.g. {unexpected[0]}",
        )
    missing = sorted(set(expected) - set(found))
    if missing:
        raise CheckpointError(
            "tensor_mismatch", f"{len(missing)} tensor(s) are missing, e.g. {missing[0]}"
        )
    for name, shape in expected.items():
        if found[name] != shape:
            raise CheckpointError(
                "tensor_mismatch",
                f"tensor {name} has shape {list(found[name])}, the config needs {list(shape)}",
            )


def _check_tokenizer_fits(tokenizer: Tokenizer, config: GPTConfig) -> None:
    if tokenizer.n_vocab > config.vocab_size:
        raise CheckpointError(
            "tokenizer_mismatch",
            f"the tokenizer has ids up to {tokenizer.n_vocab - 1} but the model's "
            f"vocab_size is {config.vocab_size}",
        )


def _inspect(path: Path) -> tuple[CheckpointInfo, Tokenizer]:
    source_format = detect_format(path)
    card: dict[str, Any] = {}
    if source_format == "bundle":
        config, tokenizer_spec = _bundle_config(path)
        tokenizer = _bundle_tokenizer(path, tokenizer_spec)
        if (path / CARD_FILE).exists():
            card = _read_json(path / CARD_FILE)
    else:
        config = _hf_config(path)
        tokenizer = _hf_tokenizer(path)
    _check_tokenizer_fits(tokenizer, config)
    header = _read_header(path / WEIGHTS_FILE)
    _check_tensors(header, config, huggingface=source_format == "huggingface")
    if (path / TABLE_FILE).is_file():
        with _bigram_errors():
            check_table_header(read_table_header(path / TABLE_FILE), config.vocab_size)
    parameters = sum(_numel(shape) for name, shape in expected_shapes(config).items())
    info = CheckpointInfo(
        path=path,
        source_format=source_format,
        config=config,
        tokenizer_kind=tokenizer.kind,
        n_vocab=tokenizer.n_vocab,
        parameters=parameters,
        weights_bytes=(path / WEIGHTS_FILE).stat().st_size,
        card=card,
    )
    return info, tokenizer


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


@contextlib.contextmanager
def _bigram_errors():
    """A bigram table that is there but does not fit refuses the folder (code bad_bigram):
    shipping a broken one is a mistake to fix, not to hide."""
    try:
        yield
    except BigramTableError as exc:
        raise CheckpointError("bad_bigram", str(exc)) from None
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(
            "bad_bigram", f"{TABLE_FILE} is not a readable safetensors file: {exc}"
        ) from None


def _load_bigram(path: Path, config: GPTConfig) -> BigramTable | None:
    """The folder's bigram table, or None: a model without one is complete all the same."""
    if not (path / TABLE_FILE).is_file():
        return None
    with _bigram_errors():
        return read_bigram_table(path / TABLE_FILE, config.vocab_size)


def validate_checkpoint(path: str | Path) -> CheckpointInfo:
    """Check a model directory without loading its weights; raise CheckpointError if bad."""
    info, _ = _inspect(Path(path))
    return info


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Only the tokenizer of a model directory: no weights read (the tokenizer lesson's API
    runs in the web process, which has no use for them)."""
    path = Path(path)
    if detect_format(path) == "bundle":
        _, tokenizer_spec = _bundle_config(path)
        return _bundle_tokenizer(path, tokenizer_spec)
    return _hf_tokenizer(path)


def default_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def load_model(
    path: str | Path,
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> LanguageModel:
    """Validate and load a bundle or a Hugging Face GPT-2 directory onto a device."""
    path = Path(path)
    info, tokenizer = _inspect(path)
    huggingface = info.source_format == "huggingface"
    try:
        tensors = load_file(str(path / WEIGHTS_FILE), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError("bad_weights", f"cannot read {WEIGHTS_FILE}: {exc}") from None

    state: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        ours = _hf_to_ours(name) if huggingface else name
        if ours is None:
            continue
        if huggingface and ours.endswith(HF_TRANSPOSED):
            tensor = tensor.t()
        if not torch.isfinite(tensor).all():
            raise CheckpointError("bad_weights", f"tensor {name} holds NaN or infinite values")
        state[ours] = tensor.float()

    device = torch.device(device)
    model = GPT(info.config)
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state, strict=True)
    model.to(device=device, dtype=dtype or default_dtype(device))
    model.eval()
    return LanguageModel(
        model=model,
        tokenizer=tokenizer,
        name=path.name,
        source_format=info.source_format,
        card=info.card,
        bigram=_load_bigram(path, info.config),
        folder=path,
    )


# -- writing ------------------------------------------------------------------------------


def save_bundle(
    path: str | Path,
    model: GPT,
    tokenizer: Tokenizer,
    card: dict[str, Any] | None = None,
) -> Path:
    """Write a bundle directory that `load_model` reads back exactly."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if tokenizer.kind != "rank_file":
        raise CheckpointError("bad_tokenizer", "only rank-file tokenizers can be saved in a bundle")
    specials = dict(tokenizer.special_tokens)
    ranks = dict(tokenizer.encoding._mergeable_ranks)
    write_rank_file(ranks, path / RANK_FILE)
    config = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "model": model.config.to_dict(),
        "tokenizer": {
            "type": "rank_file",
            "file": RANK_FILE,
            "pattern": "gpt2",
            "special_tokens": specials,
        },
    }
    (path / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    state = {
        name: tensor.detach().float().cpu().contiguous()
        for name, tensor in model.state_dict().items()
        if name != "lm_head.weight"  # tied to wte; safetensors refuses shared storage
    }
    save_file(state, str(path / WEIGHTS_FILE), metadata={"format": BUNDLE_FORMAT})
    (path / CARD_FILE).write_text(json.dumps(card or {}, indent=2) + "\n", encoding="utf-8")
    return path


__all__ = [
    "CheckpointError",
    "CheckpointInfo",
    "END_OF_TEXT",
    "detect_format",
    "expected_shapes",
    "load_model",
    "save_bundle",
    "validate_checkpoint",
]
