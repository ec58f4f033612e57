"""The playground page; everything live happens over the websocket."""

from django.conf import settings
from django.shortcuts import render

from webapp.catalog.models import LanguageModel

from .protocol import PROTOCOL_VERSION


def playground(request):
    models = [record.public_facts() for record in LanguageModel.objects.for_students()]
    default = LanguageModel.objects.default()
    return render(
        request,
        "playground/playground.html",
        {
            "page_config": {
                "protocol": PROTOCOL_VERSION,
                "websocket_path": "/ws/generate/",
                "models": models,
                "default_model": default.slug if default else None,
                "max_prompt_chars": settings.GLASSBOX["MAX_PROMPT_CHARS"],
                "max_candidates": settings.GLASSBOX["MAX_CANDIDATES"],
            },
            "has_models": bool(models),
        },
    )
