"""The model registry: registering bundle folders, and which models students may use."""

from __future__ import annotations

import pytest
import torch

from inference import GPT, GPTConfig, Tokenizer, save_bundle
from webapp.catalog.models import LanguageModel
from webapp.catalog.registry import register_bundled_models, register_directory

pytestmark = pytest.mark.django_db


@pytest.fixture
def models_dir(tmp_path, settings):
    settings.GLASSBOX = {**settings.GLASSBOX, "MODELS_DIR": tmp_path, "DEFAULT_MODEL": "beta"}
    torch.manual_seed(0)
    tokenizer = Tokenizer.from_ranks({bytes([b]): b for b in range(256)}, {"<|endoftext|>": 256})
    config = GPTConfig(vocab_size=257, block_size=16, n_layer=1, n_head=2, n_embd=8)
    for name in ("alpha", "beta"):
        save_bundle(tmp_path / name, GPT(config), tokenizer, card={"description": f"{name} model"})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    return tmp_path


def test_registering_records_the_facts(models_dir):
    record = register_directory("alpha")
    assert record.status == LanguageModel.Status.READY
    assert (record.n_layer, record.n_head, record.block_size, record.vocab_size) == (1, 2, 16, 257)
    assert record.parameters > 0
    assert record.description == "alpha model"
    assert record.prompt_token_limit == 15


def test_a_bad_folder_is_recorded_as_failed_with_the_reason(models_dir):
    record = register_directory("broken")
    assert record.status == LanguageModel.Status.FAILED
    assert "model.safetensors is missing" in record.status_reason
    assert record not in LanguageModel.objects.available()


def test_registering_all_is_idempotent_and_picks_the_configured_default(models_dir):
    register_bundled_models()
    register_bundled_models()
    assert LanguageModel.objects.count() == 3
    assert LanguageModel.objects.default().slug == "beta"
    assert list(LanguageModel.objects.available().values_list("slug", flat=True)) == [
        "alpha",
        "beta",
    ]


def test_a_disabled_model_is_not_available(models_dir):
    register_bundled_models()
    LanguageModel.objects.filter(slug="beta").update(enabled=False)
    assert LanguageModel.objects.default().slug == "alpha"


def test_prompt_limit_respects_a_lower_per_model_limit(models_dir):
    record = register_directory("alpha")
    record.max_prompt_tokens = 5
    assert record.prompt_token_limit == 5
    record.max_prompt_tokens = 500
    assert record.prompt_token_limit == 15


def test_a_registered_folder_whose_files_changed_is_checked_again(models_dir):
    """An updated checkout can ship a new file in a bundle; the registry must follow it."""
    register_bundled_models()
    before = LanguageModel.objects.get(slug="alpha")
    (models_dir / "alpha" / "README.md").write_text("a new file in the bundle\n")
    changed = register_bundled_models()
    after = LanguageModel.objects.get(slug="alpha")
    assert [record.slug for record in changed] == ["alpha"]
    assert after.sha256 != before.sha256 and after.status == LanguageModel.Status.READY
    assert register_bundled_models() == []  # nothing changed since: nothing re-checked
