"""`manage.py import_model` and the bundled model's registration on a fresh database."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from tests.environment import REPO
from tests.factories import make_bundle, make_hf_folder, zip_folder
from webapp.catalog.models import LanguageModel

pytestmark = pytest.mark.django_db


def test_import_a_folder(models_dir, tmp_path, capsys):
    source = make_bundle(tmp_path / "My_Model")
    call_command("import_model", str(source))
    record = LanguageModel.objects.get(slug="my-model")
    assert record.status == LanguageModel.Status.READY
    assert (models_dir / "my-model" / "model.safetensors").is_file()
    assert source.is_dir()  # copied, not moved
    assert "my-model: ready" in capsys.readouterr().out


def test_import_a_huggingface_folder_under_a_slug(models_dir, tmp_path):
    call_command("import_model", str(make_hf_folder(tmp_path / "gpt2")), slug="tiny-gpt2")
    assert LanguageModel.objects.get(slug="tiny-gpt2").source_format == "huggingface"


def test_import_a_zip(models_dir, tmp_path):
    archive = zip_folder(make_bundle(tmp_path / "b"), tmp_path / "zipped.zip")
    call_command("import_model", str(archive), slug="zipped")
    assert LanguageModel.objects.get(slug="zipped").status == LanguageModel.Status.READY


def test_a_bad_folder_is_refused_and_nothing_is_kept(models_dir, tmp_path):
    source = make_bundle(tmp_path / "bad")
    (source / "weights.pt").write_bytes(b"pickle")
    with pytest.raises(CommandError, match="pickle"):
        call_command("import_model", str(source), slug="bad")
    assert not LanguageModel.objects.exists()
    assert [p.name for p in models_dir.iterdir() if p.name != ".staging"] == []


def test_a_duplicate_slug_is_refused(models_dir, tmp_path):
    source = make_bundle(tmp_path / "m")
    call_command("import_model", str(source), slug="same")
    with pytest.raises(CommandError, match="already exists"):
        call_command("import_model", str(source), slug="same")


@pytest.mark.skipif(
    not (REPO / "models" / "shakespeare" / "model.safetensors").exists(),
    reason="models/shakespeare is not built",
)
def test_a_fresh_database_gets_the_bundled_model(settings):
    settings.GLASSBOX = {**settings.GLASSBOX, "MODELS_DIR": REPO / "models"}
    assert not LanguageModel.objects.exists()
    call_command("register_bundled_models")
    record = LanguageModel.objects.get(slug="shakespeare")
    assert record.status == LanguageModel.Status.READY and record.is_default
    call_command("register_bundled_models")  # idempotent
    assert LanguageModel.objects.count() == 1
