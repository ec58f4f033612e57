"""Requests as the consumer hands them to a worker task, for the worker-side tests: the
validated client message plus the fields the consumer adds (the model's folder and
checksum, the prompt-token limit), without a consumer in between."""

from __future__ import annotations

from pathlib import Path

from webapp.catalog.storage import bundle_sha256
from webapp.playground.trace_protocol import TraceRequest


def trace_request(
    bundle: Path, default_prompt: str, max_prompt_tokens: int, request_id: str = "t-1", **fields
) -> dict:
    """A validated `trace` for the model folder `bundle`, as `trace_reply` receives it;
    `fields` may name another `prompt`."""
    message = {"type": "trace", "prompt": default_prompt, **fields}
    request = TraceRequest.model_validate(message)
    payload = request.model_dump(mode="json")
    payload.update(
        request_id=request_id,
        model="tiny",
        model_path=str(bundle),
        model_sha256=bundle_sha256(bundle),
        max_prompt_tokens=max_prompt_tokens,
    )
    return payload
