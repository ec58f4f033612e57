"""The websocket protocol, version 1: what a client may send, and how events are written.

Everything here is plain functions and pydantic models, so it is tested without a server.
docs/protocol.md is the human-readable contract; keep the two in step.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .trace_protocol import ExperimentRequest, TraceRequest

PROTOCOL_VERSION = 1
EMPTY_PROMPT_SENTENCE = "The prompt is empty: type something for the model to continue."
# the Celery tasks that serve `generate` and `trace`; sent by name so that the web
# process never imports torch
GENERATE_TASK = "playground.generate"
TRACE_TASK = "playground.trace"
TRAIN_TASK = "playground.train"  # lesson 13's mini training run, on the "cpu" queue
DEFAULT_MAX_NEW_TOKENS = 100
MAX_SEED = 2**31 - 1


class ClientError(Exception):
    """A request the server refuses; becomes an `error` message, the connection stays open."""

    def __init__(self, code: str, message: str, request_id: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id


class AttentionSelection(BaseModel):
    """Which attention maps to send: lists of indices, or "all"."""

    model_config = ConfigDict(extra="forbid")

    layers: Literal["all"] | list[Annotated[int, Field(ge=0)]] = "all"
    heads: Literal["all"] | list[Annotated[int, Field(ge=0)]] = "all"


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    type: Literal["generate"]
    version: Literal[1] = 1
    request_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    prompt: str = Field(max_length=100_000)
    model: str | None = Field(default=None, max_length=64)
    max_new_tokens: int | None = Field(default=None, ge=1)  # None: min(100, model's limit)
    temperature: float = Field(default=0.8, ge=0.0, le=5.0)
    top_k: int = Field(default=0, ge=0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    candidates: int = Field(default=10, ge=1, le=20)
    attention: AttentionSelection | Literal["none"] = "none"
    experiment: ExperimentRequest | None = None  # generate with a changed model

    @field_validator("prompt")
    @classmethod
    def prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the prompt is empty")
        return value


class StopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["stop"]
    version: Literal[1] = 1
    request_id: str | None = None


# inference/mini_training.py's bounds, repeated so that the web process validates without
# importing torch (tests/webapp/test_training.py checks that the two agree)
TRAIN_MIN_TEXT_CHARS, TRAIN_MAX_TEXT_CHARS = 200, 20_000
TRAIN_MIN_STEPS, TRAIN_MAX_STEPS = 20, 1000
TRAIN_DEFAULT_STEPS = 300
TRAIN_SIZES = ("tiny", "small")


class TrainRequest(BaseModel):
    """Train a tiny GPT from scratch on the Shakespeare excerpt or the student's own text."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["train"]
    version: Literal[1] = 1
    request_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    model: str | None = Field(default=None, max_length=64)  # sent by every lesson; unused
    source: Literal["excerpt", "text"] = "excerpt"
    text: str | None = Field(default=None, max_length=TRAIN_MAX_TEXT_CHARS)
    steps: int = Field(default=TRAIN_DEFAULT_STEPS, ge=TRAIN_MIN_STEPS, le=TRAIN_MAX_STEPS)
    size: Literal["tiny", "small"] = "small"
    seed: int = Field(default=0, ge=0, le=MAX_SEED)

    @model_validator(mode="after")
    def text_fits_source(self) -> TrainRequest:
        if self.source == "text":
            if self.text is None or not self.text.strip():
                raise ValueError("the training text is empty: paste a text or pick the excerpt")
            if len(self.text) < TRAIN_MIN_TEXT_CHARS:
                raise ValueError(
                    f"the training text has {len(self.text)} characters; give at least "
                    f"{TRAIN_MIN_TEXT_CHARS}"
                )
        elif self.text is not None:
            raise ValueError("send a 'text' only with source 'text'")
        return self


FIELD_SENTENCES = {
    "prompt": "The prompt",
    "max_new_tokens": "Max new tokens",
    "temperature": "Temperature",
    "top_k": "Top-k",
    "top_p": "Top-p",
    "seed": "The seed",
    "candidates": "The number of candidates",
    "attention": "The attention selection",
    "request_id": "The request id",
    "model": "The model name",
    "version": "The protocol version",
    "experiment": "The experiment",
    "parts": "The parts",
    "layers": "The layers",
    "heads": "The heads",
    "positions": "The positions",
    "lens_token": "The followed token",
    "analogy": "The analogy",
    "neuron": "The neuron",
    "text": "The training text",
    "steps": "Steps",
    "size": "Size",
    "source": "The text source",
}


def explain_validation_error(exc: ValidationError) -> tuple[str, str]:
    """(code, sentence) for the first problem pydantic found, in a student's words."""
    first = exc.errors()[0]
    location = [str(part) for part in first.get("loc", ())]
    field = location[0] if location else ""
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return "unknown_field", f"Unknown field {'.'.join(location)!r} in the request."
    if kind == "missing":
        # a nested field is named in full ('analogy.c'), or the sentence would point at
        # the object that is there
        return "missing_field", f"The request needs a {'.'.join(location)!r} field."
    if field == "prompt" and "empty" in first.get("msg", ""):
        return "empty_prompt", EMPTY_PROMPT_SENTENCE
    if field == "version":
        return "bad_version", f"This server speaks protocol version {PROTOCOL_VERSION}."
    detail = first.get("msg", "is not valid").removeprefix("Value error, ")
    if not field:  # a check of the whole request (TrainRequest's text and source)
        return "invalid_setting", f"{detail[0].upper() + detail[1:]}."
    name = FIELD_SENTENCES.get(field, f"The field {field!r}")
    if len(location) > 1 and field in ("experiment", "attention", "analogy", "neuron"):
        name = f"{name} ({'.'.join(location[1:])})"  # say which nested setting
    return "invalid_setting", f"{name}: {detail[0].lower() + detail[1:]}."


CLIENT_MESSAGES = {
    "generate": GenerateRequest,
    "trace": TraceRequest,
    "train": TrainRequest,
    "stop": StopRequest,
}


def parse_client_message(
    content: Any,
) -> GenerateRequest | TraceRequest | TrainRequest | StopRequest:
    """Validate one decoded JSON message; raise ClientError with a specific code."""
    if not isinstance(content, dict):
        raise ClientError("bad_message", "Each message must be a JSON object with a 'type'.")
    kind = content.get("type")
    model = CLIENT_MESSAGES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ClientError(
            "unknown_type",
            f"Unknown message type {kind!r}; expected 'generate', 'trace', 'train' or 'stop'.",
        )
    try:
        return model.model_validate(content)
    except ValidationError as exc:
        code, message = explain_validation_error(exc)
        request_id = (
            content.get("request_id") if isinstance(content.get("request_id"), str) else None
        )
        raise ClientError(code, message, request_id) from None


def error_message(code: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "request_id": request_id}


# -- events -> JSON -------------------------------------------------------------------------


def encode_unit_8bit(weights: np.ndarray) -> str:
    """Attention weights in [0, 1] as 8-bit integers (w * 255, rounded), base64."""
    levels = np.clip(np.rint(weights * 255.0), 0, 255).astype(np.uint8)
    return base64.b64encode(levels.tobytes()).decode("ascii")


def decode_unit_8bit(data: str, shape: list[int]) -> np.ndarray:
    levels = np.frombuffer(base64.b64decode(data), dtype=np.uint8)
    return levels.reshape(shape).astype(np.float32) / 255.0


def resolve_selection(selection: AttentionSelection | dict | str | None, n_layer: int, n_head: int):
    """(layers, heads) index lists, or None when no attention is wanted."""
    if selection == "none" or selection is None:
        return None
    if isinstance(selection, dict):  # as it travels to the worker, in JSON
        selection = AttentionSelection.model_validate(selection)
    layers = list(range(n_layer)) if selection.layers == "all" else sorted(set(selection.layers))
    heads = list(range(n_head)) if selection.heads == "all" else sorted(set(selection.heads))
    if any(layer >= n_layer for layer in layers):
        raise ClientError("invalid_setting", f"This model has layers 0 to {n_layer - 1}.")
    if any(head >= n_head for head in heads):
        raise ClientError("invalid_setting", f"This model has heads 0 to {n_head - 1}.")
    if not layers or not heads:
        raise ClientError("invalid_setting", "Choose at least one layer and one head.")
    return layers, heads


def token_json(token) -> dict[str, Any]:
    return {
        "id": token.id,
        "bytes": base64.b64encode(token.bytes).decode("ascii"),
        "text": token.text,
        "partial": token.partial,
    }


def prompt_attention_json(attention, layers, heads) -> dict[str, Any]:
    """The prompt's (L', H', T, T) maps, lower triangle only: row i holds i + 1 weights.

    `attention` holds only the selected layers and heads: the engine captured no others.
    """
    selected = attention.numpy()  # (L', H', T, T)
    T = selected.shape[-1]
    rows, cols = np.tril_indices(T)
    return {
        "layers": layers,
        "heads": heads,
        "length": T,
        "packing": "lower_triangle_rows",
        "data": encode_unit_8bit(selected[..., rows, cols]),
    }


def step_attention_json(attention, layers, heads, query_position: int) -> dict[str, Any]:
    """One new row per map: (L', H', query_position + 1) weights, already selected."""
    selected = attention.numpy()
    return {
        "layers": layers,
        "heads": heads,
        "query_position": query_position,
        "data": encode_unit_8bit(selected),
    }


def event_json(event, request_id: str, tokenizer, selection) -> dict[str, Any]:
    """One engine event as a protocol message."""
    if event.type == "prompt":
        message = {
            "type": "prompt",
            "request_id": request_id,
            "tokens": [token_json(t) for t in event.tokens],
            "attention": None,
        }
        if selection and event.attention is not None:
            message["attention"] = prompt_attention_json(event.attention, *selection)
        return message
    if event.type == "step":
        report = event.sample
        message = {
            "type": "step",
            "request_id": request_id,
            "index": event.index,
            "token": token_json(event.token),
            "prob": report.prob,
            "raw_prob": report.raw_prob,
            "rank": report.rank,
            "entropy": report.entropy,
            "raw_entropy": report.raw_entropy,
            "kept": report.kept,
            "candidates": [
                {
                    "id": c.token_id,
                    "text": tokenizer.describe([c.token_id])[0].text,
                    "raw_prob": c.raw_prob,
                    "prob": c.prob,
                }
                for c in report.candidates
            ],
            "elapsed_ms": round(event.elapsed_ms, 2),
            "attention": None,
        }
        if selection and event.attention is not None:
            message["attention"] = step_attention_json(
                event.attention, *selection, event.query_position
            )
        return message
    return {
        "type": "done",
        "request_id": request_id,
        "finish_reason": event.finish_reason,
        "prompt_tokens": event.prompt_tokens,
        "new_tokens": event.new_tokens,
        "seed": event.seed,
        "tokens_per_second": round(event.tokens_per_second, 2),
        "time_to_first_token_ms": round(event.time_to_first_token_ms, 2),
        "prefill_ms": round(event.prefill_ms, 2),
        "total_ms": round(event.total_ms, 2),
    }
