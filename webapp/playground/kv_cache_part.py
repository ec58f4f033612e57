"""The `kv_cache` trace part (docs/protocol.md): the student's prompt continued greedily
with the KV cache and without it, on the worker, every step timed, and the cache's size.

The measurement itself is `inference.kv_measure.measure_kv_cache` (plain engine code);
here it runs on the loaded model and its result is written into the `trace_result`.
It always measures the plain model: an experiment in the same request does not apply.
"""

from __future__ import annotations

from typing import Any

import torch

from inference import LanguageModel
from inference.kv_measure import KVMeasureError, KVMeasurement, measure_kv_cache

from .protocol import ClientError


def kv_cache_json(lm: LanguageModel, ids: list[int], new_tokens: int) -> dict[str, Any]:
    """Measure on the worker; the reply's `kv_cache` field."""
    try:
        result = measure_kv_cache(
            lm.model,
            ids,
            new_tokens,
            end_of_text=lm.tokenizer.eot_id,
            allowed_ids=lm.tokenizer.known_ids(),
        )
    except KVMeasureError as exc:
        raise ClientError("invalid_setting", f"KV cache: {exc}.") from exc
    return measurement_json(lm, result)


def measurement_json(lm: LanguageModel, result: KVMeasurement) -> dict[str, Any]:
    size = result.size
    return {
        "prompt_tokens": result.prompt_tokens,
        "requested_tokens": result.requested_tokens,
        "new_tokens": result.new_tokens,
        "identical": result.identical,
        "cached": run_json(lm, result.cached),
        "uncached": run_json(lm, result.uncached),
        "size": {
            "n_layer": size.n_layer,
            "n_head": size.n_head,
            "head_size": size.head_size,
            "bytes_per_number": size.bytes_per_number,
            "dtype": size.dtype,
            "tokens": result.tokens,
            "bytes": size.bytes_for(result.tokens),
            "bytes_per_token": size.bytes_per_token,
            "block_size": result.block_size,
            "context_bytes": size.bytes_for(result.block_size),
        },
        "cached_positions": result.cached_positions,
        "cache_tensor_bytes": result.cache_tensor_bytes,
        "device": str(lm.device),
        "threads": torch.get_num_threads(),
    }


def run_json(lm: LanguageModel, run) -> dict[str, Any]:
    return {
        "ids": run.ids,
        "text": lm.tokenizer.decode(run.ids),
        "step_ms": [round(ms, 4) for ms in run.step_ms],
        "total_ms": round(run.total_ms, 3),
    }
