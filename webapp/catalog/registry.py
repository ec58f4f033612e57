"""Registering model directories: validate cheaply, then record the facts on the registry."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction

from inference.checkpoint import CheckpointError, validate_checkpoint

from .models import LanguageModel


def register_directory(
    directory: str, slug: str | None = None, name: str | None = None
) -> LanguageModel:
    """Create or refresh the record of MODELS_DIR/directory; a bad bundle is recorded as failed."""
    path = Path(settings.GLASSBOX["MODELS_DIR"]) / directory
    slug = slug or directory
    record, _ = LanguageModel.objects.get_or_create(
        slug=slug, defaults={"name": name or slug.replace("-", " ").title(), "directory": directory}
    )
    record.directory = directory
    try:
        info = validate_checkpoint(path)
    except CheckpointError as exc:
        record.status = LanguageModel.Status.FAILED
        record.status_reason = str(exc)
        record.save()
        return record
    config = info.config
    record.source_format = info.source_format
    record.n_layer, record.n_head, record.n_embd = config.n_layer, config.n_head, config.n_embd
    record.block_size, record.vocab_size = config.block_size, config.vocab_size
    record.parameters = info.parameters
    if info.card.get("description") and not record.description:
        record.description = info.card["description"]
    record.status = LanguageModel.Status.READY
    record.status_reason = ""
    record.save()
    return record


@transaction.atomic
def register_bundled_models() -> list[LanguageModel]:
    """Register every bundle folder in MODELS_DIR; make the configured default the default."""
    models_dir = Path(settings.GLASSBOX["MODELS_DIR"])
    records = (
        [
            register_directory(child.name)
            for child in sorted(models_dir.iterdir())
            if child.is_dir() and (child / "config.json").is_file()
        ]
        if models_dir.is_dir()
        else []
    )
    if not LanguageModel.objects.filter(is_default=True).exists():
        preferred = settings.GLASSBOX["DEFAULT_MODEL"]
        candidate = (
            LanguageModel.objects.available().filter(slug=preferred).first()
            or LanguageModel.objects.available().first()
        )
        if candidate:
            candidate.is_default = True
            candidate.save(update_fields=["is_default"])
    return records
