"""An `experiment` object of the protocol, turned into what the engine runs.

The consumer has validated the shape and the ranges; here, on the worker, the steering
vector is built on the model (from two prompts or from one token) and the whole becomes
an `inference.Intervention` plus the weights' bit width.
"""

from __future__ import annotations

from typing import Any

from inference import (
    Intervention,
    LanguageModel,
    Steering,
    steering_vector_from_prompts,
    steering_vector_from_token,
)

from .protocol import ClientError

MAX_STEERING_PROMPT_TOKENS = 256


def build_experiment(
    lm: LanguageModel, experiment: dict[str, Any] | None
) -> tuple[Intervention | None, int | None]:
    """(intervention or None, quantize_bits or None) for a request's `experiment`."""
    if not experiment:
        return None, None
    steer = experiment.get("steer")
    intervention = Intervention(
        ablate_heads=frozenset(tuple(pair) for pair in experiment.get("ablate_heads") or ()),
        ablate_mlps=frozenset(experiment.get("ablate_mlps") or ()),
        steering=steering(lm, steer, experiment.get("quantize_bits")) if steer else None,
    )
    intervention.validate(lm.config)
    return (intervention if intervention else None), experiment.get("quantize_bits")


def steering(lm: LanguageModel, steer: dict[str, Any], quantize_bits: int | None) -> Steering:
    # the vector is read off the same weights the experiment runs on
    model = lm.model_for(quantize_bits)
    layer = steer["layer"]
    if not 0 <= layer <= lm.config.n_layer:
        raise ClientError(
            "invalid_setting",
            f"Steering layer: choose 0 (the embeddings) to {lm.config.n_layer}.",
        )
    source = steer["vector"]
    if source["kind"] == "token":
        ids = lm.tokenizer.encode(source["text"])
        if len(ids) != 1:
            raise ClientError(
                "invalid_setting",
                f"Steering token: {source['text']!r} is {len(ids)} tokens for this model; "
                "choose text that is exactly one token.",
            )
        vector = steering_vector_from_token(model, ids[0])
    else:
        positive = prompt_ids(lm, source["positive"], "positive")
        negative = prompt_ids(lm, source["negative"], "negative")
        vector = steering_vector_from_prompts(model, positive, negative, layer)
    return Steering(
        vector=vector.float().cpu(),
        layer=layer,
        strength=float(steer.get("strength", 4.0)),
        from_position=int(steer.get("from_position", 0)),
    )


def prompt_ids(lm: LanguageModel, text: str, which: str) -> list[int]:
    ids = lm.tokenizer.encode(text)
    limit = min(MAX_STEERING_PROMPT_TOKENS, lm.config.block_size)
    if not ids:
        raise ClientError("invalid_setting", f"Steering: the {which} prompt is empty.")
    if len(ids) > limit:
        raise ClientError(
            "invalid_setting",
            f"Steering: the {which} prompt is {len(ids)} tokens; the limit is {limit}.",
        )
    return ids
