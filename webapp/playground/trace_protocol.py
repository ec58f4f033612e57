"""The `trace` message of protocol version 1: the request's validation, and the reply's
encoding (docs/protocol.md, "trace" and "trace_result").

Plain functions and pydantic models, tested without a server. Tensors travel as base64
of little-endian float16 (float32 for the last logits, which a page re-samples exactly).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TRACE_TOP_K = 50
Index = Annotated[int, Field(ge=0)]
# inference.PARTS, repeated so that the web process validates without importing torch
# (tests/webapp/test_trace_protocol.py checks that the two lists agree)
TRACE_PARTS = (
    "token_embeddings",
    "position_embeddings",
    "residuals",
    "ln_1",
    "q",
    "k",
    "v",
    "scores",
    "attention",
    "head_outputs",
    "attn_out",
    "ln_2",
    "mlp_pre",
    "mlp_post",
    "mlp_out",
    "logit_lens",
    "logits",
)
# Parts read from the model's tables rather than from the forward pass (the token and
# position embeddings as a whole, the bigram counts). Asked for by name only: "all" is
# the forward-pass parts above, so a client that asked for "all" before these existed
# gets the same reply.
TABLE_PARTS = ("neighbours", "embedding_map", "position_table", "bigram", "neuron_examples")
# Parts worked out on the worker from the forward pass's output, also by name only:
# token_losses is the cross-entropy of each prompt token given the ones before it;
# head_ablation is Δ log p of one target token with each head knocked out in turn.
DERIVED_PARTS = ("token_losses", "head_ablation")
# Measured on the worker, by name only: kv_cache generates kv_new_tokens greedily with the
# KV cache and without it, timing every step (lesson 12; inference/kv_measure.py).
MEASURED_PARTS = ("kv_cache",)
KV_MAX_NEW_TOKENS = 128  # inference.kv_measure.MAX_NEW_TOKENS, repeated as TRACE_PARTS is
KNOWN_PARTS = TRACE_PARTS + TABLE_PARTS + DERIVED_PARTS + MEASURED_PARTS
AnalogyWord = Annotated[str, Field(min_length=1, max_length=100)]


class SteeringVectorFromPrompts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["prompts"]
    positive: str = Field(min_length=1, max_length=2000)
    negative: str = Field(min_length=1, max_length=2000)


class SteeringVectorFromToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["token"]
    text: str = Field(min_length=1, max_length=100)


class SteerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layer: Index
    strength: float = Field(default=4.0, ge=-100.0, le=100.0, allow_inf_nan=False)
    from_position: Index = 0
    vector: SteeringVectorFromPrompts | SteeringVectorFromToken = Field(discriminator="kind")


class ExperimentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ablate_heads: list[tuple[Index, Index]] = Field(default_factory=list, max_length=1024)
    ablate_mlps: list[Index] = Field(default_factory=list, max_length=1024)
    steer: SteerRequest | None = None
    quantize_bits: Literal[16, 8, 4] | None = None


class AnalogyRequest(BaseModel):
    """a − b + c: each must be exactly one token of the model's tokenizer (the worker
    checks, as only it has the tokenizer)."""

    model_config = ConfigDict(extra="forbid")

    a: AnalogyWord
    b: AnalogyWord
    c: AnalogyWord


class NeuronRequest(BaseModel):
    """One MLP neuron, for the neuron_examples part (the worker checks the ranges)."""

    model_config = ConfigDict(extra="forbid")

    layer: Index
    index: Index


class TraceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["trace"]
    version: Literal[1] = 1
    request_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    prompt: str = Field(max_length=100_000)
    model: str | None = Field(default=None, max_length=64)
    parts: Literal["all"] | list[str] = Field(
        default_factory=lambda: ["logits", "attention", "residuals"], min_length=1
    )
    layers: Literal["all"] | list[Index] = Field(default="all", min_length=1)
    heads: Literal["all"] | list[Index] = Field(default="all", min_length=1)
    positions: Literal["all"] | list[Index] = Field(default="all", min_length=1)
    top_k: int = Field(default=10, ge=1, le=MAX_TRACE_TOP_K)
    lens_token: Index | None = None
    experiment: ExperimentRequest | None = None
    analogy: AnalogyRequest | None = None
    neuron: NeuronRequest | None = None  # the neuron_examples part's neuron
    # the kv_cache part's count of new tokens (clipped on the worker to the context)
    kv_new_tokens: int = Field(default=32, ge=1, le=KV_MAX_NEW_TOKENS)
    # the head_ablation part's token (exactly one token; the worker checks); None: the
    # model's own most likely next token
    ablation_target: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("prompt")
    @classmethod
    def prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the prompt is empty")
        return value

    @field_validator("parts")
    @classmethod
    def parts_known(cls, value):
        if value == "all":
            return value
        unknown = [part for part in value if part not in KNOWN_PARTS]
        if unknown:
            raise ValueError(
                f"there is no part {unknown[0]!r}; the parts are {', '.join(KNOWN_PARTS)}"
            )
        return list(dict.fromkeys(value))  # each part once, in the order asked

    def part_names(self) -> list[str]:
        return list(TRACE_PARTS) if self.parts == "all" else list(self.parts)


def encode_tensor(tensor, dtype: str = "float16") -> dict[str, Any]:
    """{"shape", "dtype", "data"}: row-major little-endian numbers, base64."""
    array = np.ascontiguousarray(tensor.numpy() if hasattr(tensor, "numpy") else tensor)
    array = array.astype("<f2" if dtype == "float16" else "<f4")
    return {
        "shape": list(array.shape),
        "dtype": dtype,
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def decode_tensor(payload: dict[str, Any]) -> np.ndarray:
    dtype = "<f2" if payload["dtype"] == "float16" else "<f4"
    data = np.frombuffer(base64.b64decode(payload["data"]), dtype=dtype)
    return data.reshape(payload["shape"]).astype(np.float32)
