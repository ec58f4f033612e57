"""Thin JSON views over inference's tokenizer functions; the limits are in input_checks.py.

CSRF: the POST views are exempt. They are pure computations on the text sent: no session,
user or database row is read or written, so a forged request from another site can make a
browser do nothing it could not do by itself, and the same-origin policy keeps that site
from reading the answer (no CORS headers are sent). Requiring the token would only make
every page that embeds the widget set the CSRF cookie first.

Tokenizing is not running a model, so it happens here, in Daphne's thread pool, not on a
worker; the bounded input keeps each request to milliseconds once a tokenizer is loaded.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from inference.checkpoint import CheckpointError
from inference.merge_replay import DEFAULT_MAX_STEPS, replay_merges
from inference.reference_tokenizers import ENCODINGS, ReferenceTokenizerError
from inference.toy_bpe import MAX_CHARS as TOY_MAX_CHARS
from inference.toy_bpe import MAX_MERGES as TOY_MAX_MERGES
from inference.toy_bpe import ToyBPEError, train_toy_bpe
from webapp.catalog.models import LanguageModel

from . import sources
from .input_checks import (
    MAX_REPLAY_CHARS,
    MAX_TOKENIZE_BYTES,
    MAX_TOKENIZE_CHARS,
    ApiError,
    encodings_field,
    json_body,
    text_field,
)
from .json_shapes import (
    encoding_json,
    error_json,
    replay_json,
    tokenization_json,
    training_json,
)


def json_api(method: str):
    """Answer only `method`, and turn an ApiError into {"error": {code, message}}."""

    def decorate(view):
        def wrapped(request):
            if request.method != method:
                return JsonResponse(
                    error_json("method_not_allowed", f"use {method}"),
                    status=405,
                    headers={"Allow": method},
                )
            try:
                return JsonResponse(view(request))
            except ApiError as exc:
                return JsonResponse(error_json(exc.code, exc.message), status=exc.status)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return csrf_exempt(wrapped) if method == "POST" else wrapped

    return decorate


def chosen_model(data: dict, required: bool) -> LanguageModel | None:
    slug = data.get("model")
    if slug is None and not required:
        return None
    if slug is None:
        record = LanguageModel.objects.default()
        if record is None:
            raise ApiError("unknown_model", "no model is available")
        return record
    record = sources.student_model(slug)
    if record is None:
        raise ApiError("unknown_model", f"no model {slug!r} is available")
    return record


@json_api("GET")
def tokenizer_list(request):
    """OpenAI's encodings (installed or not) and the models' own tokenizers."""
    return {
        "encodings": [encoding_json(status) for status in sources.encoding_statuses()],
        "models": [sources.model_entry(r) for r in LanguageModel.objects.for_students()],
        "limits": {
            "tokenize_chars": MAX_TOKENIZE_CHARS,
            "tokenize_bytes": MAX_TOKENIZE_BYTES,
            "replay_chars": MAX_REPLAY_CHARS,
            "train_chars": TOY_MAX_CHARS,
            "train_merges": TOY_MAX_MERGES,
        },
    }


@json_api("POST")
def tokenize(request):
    """{"text", "encodings": [...], "model": slug}: the tokens of each, model first."""
    data = json_body(request)
    text = text_field(data, MAX_TOKENIZE_CHARS, MAX_TOKENIZE_BYTES)
    names = encodings_field(data, list(ENCODINGS))
    record = chosen_model(data, required=False)
    if record is None and not names:
        raise ApiError("nothing_requested", "name a 'model' or at least one of 'encodings'")
    results = []
    if record is not None:
        entry = {"source": "model", "name": record.slug, "label": record.name}
        try:
            entry.update(tokenization_json(sources.model_tokenizer(record), text))
        except CheckpointError as exc:
            entry["error"] = {"code": "model_unavailable", "message": str(exc)}
        results.append(entry)
    for name in names:
        entry = {"source": "encoding", "name": name, "label": ENCODINGS[name].label}
        try:  # one missing file is reported on its own; the others still answer
            entry.update(tokenization_json(sources.encoding_tokenizer(name), text))
        except ReferenceTokenizerError as exc:
            entry["error"] = {"code": exc.code, "message": str(exc)}
        results.append(entry)
    return {"text_chars": len(text), "results": results}


@json_api("POST")
def replay(request):
    """{"text", "model"}: the model's tokenizer's merges on this text, in order."""
    data = json_body(request)
    text = text_field(data, MAX_REPLAY_CHARS)
    record = chosen_model(data, required=True)
    try:
        tokenizer = sources.model_tokenizer(record)
    except CheckpointError as exc:
        raise ApiError("model_unavailable", str(exc)) from None
    steps = replay_merges(tokenizer, text, max_steps=DEFAULT_MAX_STEPS)
    return {
        "model": {"slug": record.slug, "name": record.name},
        **replay_json(tokenizer, steps, DEFAULT_MAX_STEPS),
    }


@json_api("POST")
def train(request):
    """{"text", "merges", "split_words"}: a toy BPE trained on the text, every step shown."""
    data = json_body(request)
    text = text_field(data, TOY_MAX_CHARS)
    split_words = data.get("split_words", True)
    if not isinstance(split_words, bool):
        raise ApiError("bad_split_words", "'split_words' must be true or false")
    try:
        training = train_toy_bpe(text, data.get("merges", 10), split_words)
    except ToyBPEError as exc:
        raise ApiError("bad_merges", str(exc)) from None
    return training_json(training)
