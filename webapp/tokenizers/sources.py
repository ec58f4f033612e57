"""Where the API's tokenizers come from: OpenAI's encodings on disk, and the catalog's models.

Only tokenizers are loaded here, never weights: this runs in the web process. A model's
tokenizer is cached under its folder and the checksum the registry recorded, so a model
that was replaced and re-validated is read afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from django.conf import settings

from inference.checkpoint import CheckpointError, load_tokenizer
from inference.reference_tokenizers import EncodingStatus, all_statuses, load_encoding
from inference.tokenizer import Tokenizer
from webapp.catalog.models import LanguageModel

MODEL_TOKENIZERS_KEPT = 8

_lock = threading.Lock()
_model_tokenizers: OrderedDict[tuple[str, str], Tokenizer] = OrderedDict()


def tokenizers_dir() -> Path:
    return Path(settings.GLASSBOX["TOKENIZERS_DIR"])


def encoding_statuses() -> list[EncodingStatus]:
    return all_statuses(tokenizers_dir())


def encoding_tokenizer(name: str) -> Tokenizer:
    """Raises ReferenceTokenizerError (code unknown_encoding, not_installed or corrupt)."""
    return load_encoding(name, tokenizers_dir())


def student_model(slug: object) -> LanguageModel | None:
    """The enabled, validated model with this slug, or None."""
    if not isinstance(slug, str) or not slug:
        return None
    return LanguageModel.objects.available().filter(slug=slug).first()


def model_tokenizer(record: LanguageModel) -> Tokenizer:
    """The tokenizer of a catalog model, read once. Raises CheckpointError."""
    key = (str(record.path.resolve()), record.sha256)
    with _lock:
        if key in _model_tokenizers:
            _model_tokenizers.move_to_end(key)
            return _model_tokenizers[key]
    tokenizer = load_tokenizer(record.path)
    with _lock:
        for old in [k for k in _model_tokenizers if k[0] == key[0]]:
            del _model_tokenizers[old]  # an older version of the same folder
        _model_tokenizers[key] = tokenizer
        while len(_model_tokenizers) > MODEL_TOKENIZERS_KEPT:
            _model_tokenizers.popitem(last=False)
    return tokenizer


def model_entry(record: LanguageModel) -> dict:
    """A model as the list shows it; a tokenizer that fails to load is reported, not raised."""
    entry = {"slug": record.slug, "name": record.name, "is_default": record.is_default}
    try:
        tokenizer = model_tokenizer(record)
    except CheckpointError as exc:
        return {**entry, "installed": False, "vocab_size": None, "message": str(exc)}
    return {**entry, "installed": True, "vocab_size": tokenizer.n_vocab, "message": ""}


def clear_cache() -> None:
    with _lock:
        _model_tokenizers.clear()
