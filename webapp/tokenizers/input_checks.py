"""Reading a request body: JSON, bounded, with one clear error per thing wrong.

The bounds keep every request to a few milliseconds of work in the web process:
tokenizing is fast (tiktoken), the merge replay is Python and grows with the length of a
piece, so it gets a shorter text.
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 100_000  # 4,000 characters of emoji, JSON-escaped, fit with room to spare
MAX_TOKENIZE_CHARS = 4000
# A byte-level tokenizer can give one token per byte, and the reply's size (and time) grows
# with the tokens: 4,000 emoji would be 16,000 tokens per tokenizer. Measured on 2 cores,
# 4,000 characters of prose through five tokenizers take about 20 ms.
MAX_TOKENIZE_BYTES = 8000
MAX_REPLAY_CHARS = 500
MAX_ENCODINGS = 8


class ApiError(Exception):
    """A request the API refuses: HTTP status, a code a program can act on, a message."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def json_body(request) -> dict[str, Any]:
    if len(request.body) > MAX_BODY_BYTES:
        raise ApiError("too_large", f"the request is over {MAX_BODY_BYTES} bytes", status=413)
    try:
        data = json.loads(request.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError("bad_json", "the request body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError("bad_json", "the request body must be a JSON object")
    return data


def text_field(data: dict[str, Any], max_chars: int, max_bytes: int | None = None) -> str:
    text = data.get("text")
    if not isinstance(text, str):
        raise ApiError("bad_text", "'text' must be a string")
    if not text:
        raise ApiError("empty_text", "the text is empty")
    if len(text) > max_chars:
        raise ApiError(
            "text_too_long", f"the text has {len(text)} characters; at most {max_chars} here"
        )
    if max_bytes is not None:
        size = len(text.encode("utf-8", errors="replace"))
        if size > max_bytes:
            raise ApiError(
                "text_too_long", f"the text is {size} bytes in UTF-8; at most {max_bytes} here"
            )
    return text


def encodings_field(data: dict[str, Any], known: list[str]) -> list[str]:
    """The encodings asked for, in order, each once; unknown names are refused."""
    names = data.get("encodings", [])
    if names is None:
        return []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError("bad_encodings", "'encodings' must be a list of encoding names")
    names = list(dict.fromkeys(names))
    if len(names) > MAX_ENCODINGS:
        raise ApiError("bad_encodings", f"at most {MAX_ENCODINGS} encodings at once")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ApiError(
            "unknown_encoding",
            f"unknown encoding {unknown[0]!r}; known: {', '.join(known)}",
        )
    return names
