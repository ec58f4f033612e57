"""The HTML pages render, and the playground page carries the models it may offer."""

from __future__ import annotations

import pytest

from webapp.catalog.models import LanguageModel

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_model():
    return LanguageModel.objects.create(
        slug="tiny",
        name="Tiny",
        directory="tiny",
        status="ready",
        is_default=True,
        n_layer=2,
        n_head=4,
        n_embd=32,
        block_size=64,
        vocab_size=300,
        parameters=1234,
    )


def test_home_page_links_the_playground(client, ready_model):
    response = client.get("/")
    assert response.status_code == 200
    assert b'href="/playground/"' in response.content


def test_playground_page_lists_available_models(client, ready_model):
    LanguageModel.objects.create(
        slug="off", name="Off", directory="off", status="ready", enabled=False
    )
    response = client.get("/playground/")
    assert response.status_code == 200
    config = response.context["page_config"]
    assert [m["slug"] for m in config["models"]] == ["tiny"]
    assert config["default_model"] == "tiny"
    assert config["models"][0]["max_prompt_tokens"] == 63
    assert b'id="page-config"' in response.content


def test_playground_page_without_models_still_renders(client):
    response = client.get("/playground/")
    assert response.status_code == 200
    assert response.context["has_models"] is False


def test_admin_needs_login(client):
    response = client.get("/admin/catalog/languagemodel/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_default_model_is_listed_first(client, ready_model):
    ready_model.is_default = False
    ready_model.save()
    LanguageModel.objects.create(
        slug="zeta",
        name="Zeta",
        directory="zeta",
        status="ready",
        is_default=True,
        n_layer=1,
        n_head=1,
        block_size=8,
    )
    LanguageModel.objects.create(
        slug="alpha",
        name="Alpha",
        directory="alpha",
        status="ready",
        n_layer=1,
        n_head=1,
        block_size=8,
    )
    slugs = [m["slug"] for m in client.get("/playground/").context["page_config"]["models"]]
    assert slugs == ["zeta", "alpha", "tiny"]
