"""The playground pages; everything live happens over the websocket."""

from django.conf import settings
from django.shortcuts import render

from webapp.catalog.models import LanguageModel

from .identity import ensure_session
from .protocol import PROTOCOL_VERSION


def page_context() -> dict:
    """What both pages hand their scripts: the models a student may use, and the limits."""
    models = [record.public_facts() for record in LanguageModel.objects.for_students()]
    default = LanguageModel.objects.default()
    return {
        "page_config": {
            "protocol": PROTOCOL_VERSION,
            "websocket_path": "/ws/generate/",
            "models": models,
            "default_model": default.slug if default else None,
            "max_prompt_chars": settings.GLASSBOX["MAX_PROMPT_CHARS"],
            "max_candidates": settings.GLASSBOX["MAX_CANDIDATES"],
        },
        "has_models": bool(models),
    }


def playground(request):
    ensure_session(request)  # the websocket's limits know each browser by it
    return render(request, "playground/playground.html", page_context())


def inside(request):
    """The developer page: one forward pass, taken apart (a `trace` over the websocket)."""
    ensure_session(request)
    return render(request, "playground/inside.html", page_context())
