"""Range checks that need the model's facts (layers, heads, vocabulary) from the registry.

The pydantic models in protocol.py check what a request looks like; these check that it
fits the chosen model, in the consumer, so a wrong index is refused at once, before the
request ever reaches a worker. Plain functions raising ClientError.
"""

from __future__ import annotations

from .protocol import ClientError
from .trace_protocol import ExperimentRequest, TraceRequest


def check_indices(what: str, indices, count: int) -> None:
    """`indices` ("all" or a list) must all be below `count`."""
    if indices == "all" or indices is None:
        return
    bad = [i for i in indices if i >= count]
    if bad:
        raise ClientError(
            "invalid_setting",
            f"There is no {what} {bad[0]}: this model has {what}s 0 to {count - 1}.",
        )


def check_experiment(experiment: ExperimentRequest | None, n_layer: int, n_head: int) -> None:
    if experiment is None:
        return
    for layer, head in experiment.ablate_heads:
        if layer >= n_layer or head >= n_head:
            raise ClientError(
                "invalid_setting",
                f"Ablate heads: there is no head {head} in layer {layer}; this model has "
                f"layers 0 to {n_layer - 1} and heads 0 to {n_head - 1}.",
            )
    check_indices("layer", experiment.ablate_mlps, n_layer)
    if experiment.steer is not None and experiment.steer.layer > n_layer:
        raise ClientError(
            "invalid_setting",
            f"Steering layer: choose 0 (the embeddings) to {n_layer} (after the last block).",
        )


def check_trace(request: TraceRequest, n_layer: int, n_head: int, vocab_size: int) -> None:
    """Everything about a trace that the registry's facts can judge (positions need the
    tokens, so the worker checks those)."""
    check_indices("layer", request.layers, n_layer)
    check_indices("head", request.heads, n_head)
    if request.top_k > vocab_size:
        raise ClientError("invalid_setting", f"Top-k: this model has {vocab_size} tokens.")
    if request.lens_token is not None and request.lens_token >= vocab_size:
        raise ClientError(
            "invalid_setting",
            f"The followed token: this model's token ids go from 0 to {vocab_size - 1}.",
        )
    check_experiment(request.experiment, n_layer, n_head)
