"""The `head_ablation` trace part (docs/protocol.md): for one target token, how its
log-probability after the last position changes when each head is knocked out alone.

The grid itself is `inference.head_ablation.head_ablation_grid` (plain engine code);
here the request's `ablation_target` text is checked against the tokenizer and the
result is written into the `trace_result` message.
"""

from __future__ import annotations

import time
from typing import Any

from inference import Intervention, LanguageModel
from inference.head_ablation import head_ablation_grid

from .protocol import ClientError
from .trace_protocol import encode_tensor


def check_ablation_target(lm: LanguageModel, request: dict[str, Any]) -> int | None:
    """The target's token id (None: the model's own top token), or a ClientError."""
    text = request.get("ablation_target")
    if text is None:
        return None
    if "head_ablation" not in request["parts"]:
        raise ClientError(
            "invalid_setting",
            "ablation_target is only read by the head_ablation part: add it to parts.",
        )
    ids = lm.tokenizer.encode(text)
    if len(ids) != 1:
        raise ClientError(
            "invalid_setting",
            f"Ablation target: {text!r} is {len(ids)} tokens for this model; choose text "
            "that is exactly one token (often with its space in front, like ' lord').",
        )
    return ids[0]


def head_ablation_json(
    lm: LanguageModel,
    ids: list[int],
    target_id: int | None,
    intervention: Intervention | None,
    quantize_bits: int | None,
) -> dict[str, Any]:
    """The reply's `head_ablation` object: log p of the target and Δ log p per head."""
    started = time.perf_counter()
    grid = head_ablation_grid(lm.model_for(quantize_bits), ids, target_id, base=intervention)
    target, top = lm.tokenizer.describe([grid.target_id, grid.top_id])
    return {
        "position": len(ids) - 1,
        "target": {"id": grid.target_id, "text": target.text},
        "top": {"id": grid.top_id, "text": top.text},
        "log_prob": round(grid.log_prob, 6),
        "delta_log_prob": encode_tensor(grid.delta),
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
    }
