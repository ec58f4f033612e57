"""The HTML pages render, and the playground page carries the models it may offer."""

from __future__ import annotations

import pytest

from tests.webapp.conftest import ready_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_model():
    return ready_record("tiny", is_default=True)


def test_home_page_links_the_playground(client, ready_model):
    response = client.get("/")
    assert response.status_code == 200
    assert b'href="/playground/"' in response.content


def test_playground_page_lists_available_models(client, ready_model):
    ready_record("off", enabled=False)
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
    ready_record("zeta", is_default=True)
    ready_record("alpha")
    slugs = [m["slug"] for m in client.get("/playground/").context["page_config"]["models"]]
    assert slugs == ["zeta", "alpha", "tiny"]
