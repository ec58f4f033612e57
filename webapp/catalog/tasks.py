"""Celery tasks of the model registry (queue "cpu")."""

from __future__ import annotations

from celery import shared_task

from .models import LanguageModel
from .registry import CHECK_TASK, run_check


@shared_task(name=CHECK_TASK, ignore_result=True)
def check_model(model_id: int) -> None:
    """Load a newly added or re-validated model and record whether it works."""
    record = LanguageModel.objects.filter(pk=model_id).first()
    if record is not None:
        run_check(record)
