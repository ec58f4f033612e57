"""The worker side of a `trace`: one forward pass, its parts encoded as a `trace_result`
(and the parts read from the model's tables, from table_parts.py).

`trace_reply` is a plain function (request in, message out) so it is tested without a
channel layer; `run_trace` is what the Celery task calls. docs/protocol.md is the
contract for the message written here.
"""

from __future__ import annotations

import json
import time
from typing import Any

import torch
from django.conf import settings

from inference import LanguageModel, Trace, token_losses, weight_memory

from . import signals
from .experiment_setup import build_experiment
from .head_ablation_part import check_ablation_target, head_ablation_json
from .kv_cache_part import kv_cache_json
from .model_cache import get_model
from .protocol import EMPTY_PROMPT_SENTENCE, ClientError, error_message, token_json
from .replies import BatchSender, run_on_worker_loop
from .streaming import explain_failure
from .table_parts import add_table_parts, check_analogy
from .trace_protocol import TRACE_PARTS, encode_tensor

DECIMALS = 6

# per-layer parts sent as they are, by their name in the reply's `tensors`
PLAIN_TENSOR_PARTS = (
    "token_embeddings",
    "position_embeddings",
    "residuals",
    "q",
    "k",
    "v",
    "scores",
    "attention",
    "head_outputs",
    "attn_out",
    "mlp_pre",
    "mlp_post",
    "mlp_out",
)


def run_trace(request: dict[str, Any], reply_channel: str) -> None:
    """Entry point for the Celery task."""
    run_on_worker_loop(send_trace(request, reply_channel))


async def send_trace(request: dict[str, Any], reply_channel: str) -> None:
    request_id = request["request_id"]
    sender = BatchSender(reply_channel)
    try:
        cancel_id = request.get("cancel_id", request_id)  # unique to this run (consumers.py)
        if signals.is_cancelled(signals.sync_redis(), cancel_id):
            return  # the client left while the trace waited in the queue
        message = trace_reply(request)
    except ClientError as exc:
        message = error_message(exc.code, exc.message, request_id)
    except Exception as exc:  # the worker must survive anything a request does
        code, sentence = explain_failure(exc, request)
        message = error_message(code, sentence, request_id)
    await sender.add(message, urgent=True)


def trace_reply(request: dict[str, Any]) -> dict[str, Any]:
    """Run the trace a validated request asks for; the `trace_result` message."""
    started = time.perf_counter()
    lm = get_model(request["model_path"], request.get("model_sha256", ""))
    ids = lm.tokenizer.encode(request["prompt"])
    check_request_fits(request, ids, lm)
    analogy_ids = check_analogy(lm, request.get("analogy"))
    intervention, quantize_bits = build_experiment(lm, request.get("experiment"))
    ablation_target = check_ablation_target(lm, request)
    parts = list(TRACE_PARTS) if request["parts"] == "all" else list(request["parts"])
    captured = [part for part in parts if part in TRACE_PARTS]  # the others need no forward pass
    if "token_losses" in parts and "logits" not in captured:
        captured.append("logits")  # the losses are worked out from every position's logits
    spec = lm.capture_spec(
        captured,
        layers=none_for_all(request["layers"]),
        heads=none_for_all(request["heads"]),
        positions=none_for_all(request["positions"]),
        lens_top_k=request["top_k"],
        lens_token=request.get("lens_token"),
    )
    forward_started = time.perf_counter()
    trace = lm.trace(
        ids,
        spec,
        intervention=intervention,
        quantize_bits=quantize_bits,
        compare_top_k=request["top_k"],
    )
    forward_ms = (time.perf_counter() - forward_started) * 1000
    message = trace_result_json(trace, lm, request, quantize_bits, parts, analogy_ids)
    message["head_ablation"] = None
    if "head_ablation" in parts:  # its own passes, one per head, on the same experiment
        message["head_ablation"] = head_ablation_json(
            lm, ids, ablation_target, intervention, quantize_bits
        )
    message["kv_cache"] = None
    if "kv_cache" in parts:  # two greedy generations of its own, timed (lesson 12)
        message["kv_cache"] = kv_cache_json(lm, ids, request.get("kv_new_tokens", 32))
    message["elapsed_ms"] = {
        "forward": round(forward_ms, 2),
        "total": round((time.perf_counter() - started) * 1000, 2),
    }
    return with_size_checked(message, settings.GLASSBOX["TRACE_MAX_REPLY_BYTES"])


def none_for_all(selection):
    return None if selection == "all" else list(selection)


def check_request_fits(request: dict[str, Any], ids: list[int], lm: LanguageModel) -> None:
    """The checks that need the tokens: length and positions."""
    limit = min(request["max_prompt_tokens"], lm.config.block_size)
    if not ids:
        raise ClientError("empty_prompt", EMPTY_PROMPT_SENTENCE)
    if len(ids) > limit:
        raise ClientError(
            "prompt_too_long",
            f"The prompt is {len(ids)} tokens long; this model reads at most {limit}.",
        )
    positions = request["positions"]
    if positions != "all" and max(positions) >= len(ids):
        raise ClientError(
            "invalid_setting",
            f"Positions: the prompt has {len(ids)} tokens, so positions go from 0 to "
            f"{len(ids) - 1}.",
        )
    lens_token = request.get("lens_token")
    if lens_token is not None and lens_token >= lm.config.vocab_size:
        raise ClientError(
            "invalid_setting",
            f"The followed token: this model's token ids go from 0 to {lm.config.vocab_size - 1}.",
        )


def with_size_checked(message: dict[str, Any], limit: int) -> dict[str, Any]:
    """Write the reply's size into it, or refuse a reply over `limit` bytes."""
    size = len(json.dumps(message, separators=(",", ":")))
    if size > limit:
        raise ClientError(
            "reply_too_large",
            f"This trace would be {size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB. "
            "Ask for fewer parts, layers or positions.",
        )
    message["bytes"] = size
    return message


def trace_result_json(
    trace: Trace,
    lm: LanguageModel,
    request: dict[str, Any],
    quantize_bits: int | None,
    parts: list[str],
    analogy_ids: tuple[int, int, int] | None,
) -> dict[str, Any]:
    config = lm.config
    mentioned: set[int] = set(trace.ids)  # every token id in the reply, for token_texts
    tensors: dict[str, Any] = {}
    for part in PLAIN_TENSOR_PARTS:
        value = getattr(trace, part)
        if value is not None:
            tensors[part] = encode_tensor(value)
    for part in ("ln_1", "ln_2"):
        norm = getattr(trace, part)
        if norm is not None:
            weight, bias = layer_norm_parameters(lm.model_for(quantize_bits), part, trace.layers)
            tensors[part] = {
                "mean": encode_tensor(norm.mean),
                "std": encode_tensor(norm.std),
                "out": encode_tensor(norm.out),
                "weight": encode_tensor(weight),
                "bias": encode_tensor(bias),
            }
    if trace.head_outputs is not None:
        model = lm.model_for(quantize_bits)
        biases = [model.transformer.h[layer].attn.c_proj.bias for layer in trace.layers]
        tensors["attn_out_bias"] = encode_tensor(
            torch.stack([b.detach().float().cpu() for b in biases])
        )

    message: dict[str, Any] = {
        "type": "trace_result",
        "request_id": request["request_id"],
        "model": request["model"],
        "dims": {
            "n_layer": config.n_layer,
            "n_head": config.n_head,
            "n_embd": config.n_embd,
            "head_size": config.n_embd // config.n_head,
            "mlp_width": lm.model.transformer.h[0].mlp.c_fc.out_features,
            "vocab_size": config.vocab_size,
            "block_size": config.block_size,
            "layer_norm_epsilon": config.layer_norm_epsilon,
            "tied_embedding": embedding_is_tied(lm.model),
        },
        "tokens": [token_json(t) for t in lm.tokenizer.describe(trace.ids)],
        "layers": trace.layers,
        "heads": trace.heads,
        "positions": trace.positions,
        "tensors": tensors,
        "mlp_top": mlp_top_json(trace.mlp_post, request["top_k"]),
        "logit_lens": None,
        "logits": None,
        "token_losses": None,
        "experiment": None,
    }
    if trace.logit_lens is not None:
        lens = trace.logit_lens
        message["logit_lens"] = {
            "top_ids": lens.top_ids.tolist(),
            "top_probs": encode_tensor(lens.top_probs),
            "target_ids": lens.target_ids.tolist(),
            "target_ranks": lens.target_ranks.tolist(),
            "target_probs": encode_tensor(lens.target_probs),
        }
        mentioned.update(lens.top_ids.flatten().tolist(), lens.target_ids.tolist())
    if "token_losses" in parts:
        message["token_losses"] = token_losses_json(trace)
        mentioned.update(message["token_losses"]["top_ids"])
    if trace.logits is not None and "logits" in parts:
        k = min(request["top_k"], config.vocab_size)
        top_probs, top_ids = torch.softmax(trace.logits.float(), dim=-1).topk(k, dim=-1)
        message["logits"] = {
            "last": encode_tensor(trace.logits[-1], dtype="float32"),
            "top_ids": top_ids.tolist(),
            "top_probs": encode_tensor(top_probs),
        }
        mentioned.update(top_ids.flatten().tolist())
    if trace.comparison is not None:
        message["experiment"] = experiment_json(trace, lm, quantize_bits)
        mentioned.update(trace.comparison.before_ids + trace.comparison.after_ids)
    add_table_parts(message, mentioned, lm, trace, request, parts, analogy_ids, quantize_bits)
    message["token_texts"] = token_texts(lm, mentioned)
    return message


def token_losses_json(trace: Trace) -> dict[str, Any]:
    """Each prompt token's −ln p given the ones before it, for the kept positions (entry i:
    the token after `positions[i]`)."""
    losses = token_losses(trace.logits, trace.ids, trace.positions)
    return {
        "positions": losses.positions,
        "nats": [round(value, DECIMALS) for value in losses.nats],
        "probs": [round(value, DECIMALS) for value in losses.probs],
        "ranks": losses.ranks,
        "top_ids": losses.top_ids,
        "mean_nats": round(losses.mean_nats, DECIMALS) if losses.nats else None,
        "perplexity": round(losses.perplexity, DECIMALS) if losses.nats else None,
    }


def layer_norm_parameters(model, part: str, layers: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The learned scale γ and shift β of ln_1 or ln_2 in the traced layers, (L, C) each.

    A model built without biases has no β: it shifts by zero, so zeros are sent.
    """
    norms = [getattr(model.transformer.h[layer], part) for layer in layers]
    weight = torch.stack([n.weight.detach().float().cpu() for n in norms])
    bias = torch.stack(
        [
            n.bias.detach().float().cpu() if n.bias is not None else torch.zeros_like(n.weight)
            for n in norms
        ]
    )
    return weight, bias


def embedding_is_tied(model) -> bool:
    """True when the unembedding (lm_head) is the token embedding table itself."""
    return model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()


def mlp_top_json(mlp_post: torch.Tensor | None, top_k: int) -> dict[str, Any] | None:
    """The most active neurons after the GELU, per layer and position."""
    if mlp_post is None:
        return None
    values, ids = mlp_post.topk(min(top_k, mlp_post.shape[-1]), dim=-1)  # (L, T, k)
    return {"ids": ids.tolist(), "values": encode_tensor(values)}


def experiment_json(trace: Trace, lm: LanguageModel, quantize_bits: int | None) -> dict[str, Any]:
    comparison = trace.comparison

    def side(ids: list[int], probs: list[float]) -> list[dict[str, Any]]:
        infos = lm.tokenizer.describe(ids)
        return [
            {"id": i, "text": info.text, "prob": round(p, 6)}
            for i, info, p in zip(ids, infos, probs, strict=True)
        ]

    memory = None
    if quantize_bits is not None:
        memory = {str(bits): size for bits, size in weight_memory(lm.model).items()}
    return {
        "before": side(comparison.before_ids, comparison.before_probs),
        "after": side(comparison.after_ids, comparison.after_probs),
        "kl_bits": round(comparison.kl_bits, 6),
        "top_changed": comparison.top_changed,
        "memory_bytes": memory,
    }


def token_texts(lm: LanguageModel, ids: set[int]) -> dict[str, str]:
    ordered = sorted(ids)
    infos = lm.tokenizer.describe(ordered)
    return {str(i): info.text for i, info in zip(ordered, infos, strict=True)}
