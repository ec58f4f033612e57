"""Adding, checking and removing models: the one validation every path goes through.

Validation has two stages:
  1. files: the folder's rules (no pickle, no link, size), then the configs, the tokenizer
     and the safetensors header (inference.validate_checkpoint). Cheap, no weights read.
  2. load: the weights are loaded and a short greedy generation runs. For uploads this
     happens in a worker (Celery task on the "cpu" queue); for the command line and the
     bundled model it runs in the command's own process, which is not the web server.

The engine (torch) is imported inside functions, so the web process only loads it when
staff add a model, never to serve a page or a websocket.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import storage
from .models import LanguageModel

logger = logging.getLogger(__name__)
CHECK_PROMPT = "\n"
CHECK_TOKENS = 8
CHECK_TASK = "catalog.check_model"


class ModelRefused(ValueError):
    """A model that will not be added; the message is for the person adding it."""


def check_files(path: Path):
    """Stage 1; returns the engine's CheckpointInfo or raises ModelRefused."""
    from inference import CheckpointError, validate_checkpoint

    try:
        storage.check_folder(path)
        return validate_checkpoint(path)
    except (storage.StorageRefused, CheckpointError) as exc:
        raise ModelRefused(str(exc)) from None


def check_by_loading(path: Path) -> str:
    """Stage 2: load the weights and generate a few tokens; returns the text."""
    from inference import load_model

    lm = load_model(path)
    ids = lm.tokenizer.encode(CHECK_PROMPT)
    steps = [
        event.token_id
        for event in lm.generate(ids, max_new_tokens=CHECK_TOKENS, temperature=0)
        if event.type == "step"
    ]
    if not steps:
        raise ModelRefused("The model generated nothing.")
    return CHECK_PROMPT + lm.tokenizer.decode(steps)


def apply_facts(record: LanguageModel, info, path: Path) -> None:
    config = info.config
    record.source_format = info.source_format
    record.tokenizer_kind = info.tokenizer_kind
    record.n_layer, record.n_head, record.n_embd = config.n_layer, config.n_head, config.n_embd
    record.block_size, record.vocab_size = config.block_size, config.vocab_size
    record.parameters = info.parameters
    record.sha256 = storage.bundle_sha256(path)
    record.file_size = storage.folder_size(path)
    if info.card.get("description") and not record.description:
        record.description = str(info.card["description"])[:2000]


def refuse_duplicate(slug: str) -> None:
    storage.check_slug(slug)
    if LanguageModel.objects.filter(slug=slug).exists():
        raise ModelRefused(f"A model with the slug {slug!r} already exists.")


def add_from_archive(
    archive, slug: str, name: str, description: str = "", user=None, check_in_worker=True
):
    """Unpack, validate and register an uploaded .zip; the load check goes to a worker."""
    size = getattr(archive, "size", None)
    if size is not None and size > storage.size_limit_bytes():
        raise ModelRefused(
            f"The file is {size / 2**20:.0f} MB; the limit is "
            f"{storage.size_limit_bytes() / 2**20:.0f} MB."
        )
    try:
        refuse_duplicate(slug)
        staging = storage.staging_dir()
    except storage.StorageRefused as exc:
        raise ModelRefused(str(exc)) from None
    try:
        root = storage.unpack_archive(archive, staging)
        info = check_files(root)
        path = storage.move_into_place(root, slug)
    except storage.StorageRefused as exc:
        raise ModelRefused(str(exc)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record = LanguageModel(slug=slug, name=name, description=description, added_by=user)
    record.directory = path.name
    apply_facts(record, info, path)
    record.save()
    if check_in_worker:
        transaction.on_commit(lambda: enqueue_check(record.pk))
    return record


def import_folder(source: Path, slug: str, name: str | None = None, description: str = ""):
    """Copy a server folder into MODELS_DIR after validation, and check it here and now."""
    try:
        refuse_duplicate(slug)
    except storage.StorageRefused as exc:
        raise ModelRefused(str(exc)) from None
    check_files(source)
    staging = storage.staging_dir()
    try:
        copy = staging / slug
        shutil.copytree(source, copy, symlinks=True)
        info = check_files(copy)  # the copy is what will be served
        path = storage.move_into_place(copy, slug)
    except storage.StorageRefused as exc:
        raise ModelRefused(str(exc)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record = LanguageModel(slug=slug, name=name or slug.replace("-", " ").title())
    record.description = description
    record.directory = path.name
    apply_facts(record, info, path)
    record.save()
    return run_check(record)


def run_check(record: LanguageModel) -> LanguageModel:
    """Stages 1 and 2 on the record's folder; the record ends ready or failed, with why."""
    from inference import CheckpointError

    path = record.path
    try:
        info = check_files(path)
        apply_facts(record, info, path)
        record.check_output = check_by_loading(path)
        record.status = LanguageModel.Status.READY
        record.status_reason = ""
    except (ModelRefused, CheckpointError) as exc:
        record.status, record.status_reason = LanguageModel.Status.FAILED, str(exc)
    except Exception as exc:  # a load failure of any kind is a failed check, not a crash
        logger.exception("checking model %s failed", record.slug)
        record.status = LanguageModel.Status.FAILED
        record.status_reason = f"Loading the model failed: {exc}"
    record.checked_at = timezone.now()
    record.save()
    return record


def enqueue_check(model_id: int) -> None:
    from webapp.celery import app

    app.send_task(CHECK_TASK, args=[model_id], queue="cpu")


def register_directory(directory: str, slug: str | None = None) -> LanguageModel:
    """Record a folder already in MODELS_DIR (the bundled model) and check it here."""
    slug = slug or directory
    record, _ = LanguageModel.objects.get_or_create(
        slug=slug, defaults={"name": slug.replace("-", " ").title(), "directory": directory}
    )
    record.directory = directory
    return run_check(record)


def register_bundled_models() -> list[LanguageModel]:
    """Register every model folder in MODELS_DIR; make the configured default the default."""
    root = storage.models_dir()
    folders = (
        sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.json").is_file())
        if root.is_dir()
        else []
    )
    known = {record.directory: record for record in LanguageModel.objects.all()}
    records = []
    for folder in folders:
        record = known.get(folder.name)
        if record is None:
            records.append(register_directory(folder.name))
        elif record.sha256 and record.sha256 != storage.bundle_sha256(folder):
            # the files changed on disk (an updated checkout ships a new bundled file):
            # check them again, or the worker would refuse the model as changed
            records.append(run_check(record))
    if not LanguageModel.objects.filter(is_default=True).exists():
        available = LanguageModel.objects.available()
        preferred = settings.GLASSBOX["DEFAULT_MODEL"]
        candidate = available.filter(slug=preferred).first() or available.first()
        if candidate:
            make_default(candidate)
    return records


@transaction.atomic
def make_default(record: LanguageModel) -> None:
    LanguageModel.objects.filter(is_default=True).exclude(pk=record.pk).update(is_default=False)
    record.is_default = True
    record.save(update_fields=["is_default"])


def delete_model(record: LanguageModel) -> None:
    """Remove the record and its folder."""
    path = record.path
    record.delete()
    if path.exists():
        storage.remove_folder(path)
