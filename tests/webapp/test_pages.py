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


def test_the_playground_links_the_inside_page(client, ready_model):
    response = client.get("/playground/")
    assert b'href="/playground/inside/"' in response.content


def test_inside_page_carries_the_page_config_and_the_form(client, ready_model):
    ready_record("off", enabled=False)
    response = client.get("/playground/inside/")
    assert response.status_code == 200
    config = response.context["page_config"]
    assert config == client.get("/playground/").context["page_config"]
    assert [m["slug"] for m in config["models"]] == ["tiny"]
    assert config["default_model"] == "tiny"
    assert config["websocket_path"] == "/ws/generate/"
    html = response.content.decode()
    assert 'id="page-config"' in html
    for control in ("model", "prompt", "layer", "head", "position", "trace"):
        assert f'id="{control}"' in html
    assert 'role="status"' in html
    assert 'aria-live="polite"' in html
    assert "js/inside.js" in html
    for form in ("ablate-form", "steer-form", "quantize-form"):
        assert f'id="{form}"' in html


def test_inside_page_without_models_says_so(client):
    response = client.get("/playground/inside/")
    assert response.status_code == 200
    assert response.context["has_models"] is False
    assert b"No model is available yet" in response.content
    assert b"js/inside.js" not in response.content
