"""The course page, the lesson pages and the glossary: thin views over course.py."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static

from inference.excerpts import FORUM_SCENE, ExcerptMissing, cached_excerpt
from webapp.catalog.models import LanguageModel
from webapp.playground.identity import ensure_session
from webapp.playground.protocol import PROTOCOL_VERSION

from .course import course_summaries, glossary, neighbours, no_model_facts, render_lesson
from .facts import model_facts


def chosen_model(request) -> tuple[LanguageModel | None, list[LanguageModel]]:
    """The model named by ?model= if a student may use it, else the default one."""
    models = LanguageModel.objects.for_students()
    wanted = request.GET.get("model")
    chosen = next((m for m in models if m.slug == wanted), None)
    return chosen or LanguageModel.objects.default() or (models[0] if models else None), models


def facts_for(record: LanguageModel | None) -> dict:
    return model_facts(record) if record is not None else no_model_facts()


def course(request):
    record, models = chosen_model(request)
    return render(
        request,
        "lessons/course.html",
        {"lessons": course_summaries(facts_for(record)), "model": record, "models": models},
    )


def lesson(request, slug: str):
    previous, current, following = neighbours(slug)
    if current is None:
        raise Http404("No such lesson.")
    record, models = chosen_model(request)
    # the websocket knows a student by this session: their limits, their one running
    # request, lesson 13's one training run each
    ensure_session(request)
    facts = facts_for(record)
    page = render_lesson(current, facts)
    config = {
        "protocol": PROTOCOL_VERSION,
        "websocket_path": "/ws/generate/",
        "lesson": {"number": current.number, "slug": current.slug, "title": current.title},
        "model": record.public_facts() if record else None,
        "facts": {k: list(v) if isinstance(v, tuple) else v for k, v in facts.items()},
        "widgets": list(current.widgets),
        "widget_base": static("js/widgets/"),
    }
    return render(
        request,
        "lessons/lesson.html",
        {
            "page": page,
            "previous": previous,
            "next": following,
            "model": record,
            "models": models,
            "page_config": config,
        },
    )


def glossary_page(request):
    record, models = chosen_model(request)
    return render(
        request,
        "lessons/glossary.html",
        {"terms": glossary(facts_for(record)), "model": record, "models": models},
    )


def training_excerpt(request):
    """Lesson 13's default training text, as the trainer cuts it from the corpus (so the
    page shows exactly what a run learns from); 404 with the reason without a corpus."""
    try:
        text = cached_excerpt(FORUM_SCENE, str(settings.GLASSBOX["CORPUS_DIR"]))
    except ExcerptMissing as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    return JsonResponse({"name": FORUM_SCENE.name, "text": text})
