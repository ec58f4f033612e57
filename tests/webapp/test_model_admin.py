"""Staff manage models in the admin: upload, refusals that leave nothing behind, actions."""

from __future__ import annotations

import io
import json
import pickle
import stat
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import make_bundle, make_hf_folder, zip_folder
from webapp.catalog import registry
from webapp.catalog.models import LanguageModel
from webapp.catalog.tasks import check_model

pytestmark = pytest.mark.django_db(transaction=True)  # uploads enqueue on commit
UPLOAD_URL = "/admin/catalog/languagemodel/upload/"
CHANGELIST_URL = "/admin/catalog/languagemodel/"


@pytest.fixture
def no_worker(monkeypatch):
    """Uploads enqueue a check for a worker; here the test runs the task itself."""
    sent = []
    monkeypatch.setattr(registry, "enqueue_check", sent.append)
    return sent


@pytest.fixture
def manager(client):
    user = User.objects.create_user("teacher", password="pw-for-tests", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_models"))
    client.force_login(user)
    return user


def stored(models_dir: Path) -> list[str]:
    """Model folders and anything left in staging."""
    staging = models_dir / ".staging"
    left = [p.name for p in staging.iterdir()] if staging.exists() else []
    return sorted(p.name for p in models_dir.iterdir() if p.name != ".staging") + left


def upload(client, archive_bytes: bytes, slug="uploaded", name="Uploaded"):
    return client.post(
        UPLOAD_URL,
        {
            "archive": SimpleUploadedFile("model.zip", archive_bytes, "application/zip"),
            "slug": slug,
            "name": name,
            "description": "",
        },
    )


@pytest.fixture
def bundle_zip(tmp_path) -> bytes:
    return zip_folder(make_bundle(tmp_path / "bundle"), tmp_path / "b.zip", "bundle/").read_bytes()


def test_uploading_a_bundle_checks_it_and_a_worker_makes_it_ready(
    client, manager, models_dir, no_worker, bundle_zip
):
    response = upload(client, bundle_zip)
    record = LanguageModel.objects.get(slug="uploaded")
    assert response.status_code == 302 and str(record.pk) in response["Location"]
    assert record.status == LanguageModel.Status.PENDING
    assert no_worker == [record.pk]
    assert stored(models_dir) == ["uploaded"]
    assert record.added_by == manager
    assert (record.n_layer, record.n_head, record.vocab_size) == (1, 2, 257)
    assert len(record.sha256) == 64 and record.file_size > 0

    check_model(record.pk)  # what the worker runs
    record.refresh_from_db()
    assert record.status == LanguageModel.Status.READY
    assert record.check_output.startswith("\n")
    assert record in LanguageModel.objects.available()


def test_uploading_a_huggingface_gpt2_zip(client, manager, models_dir, no_worker, tmp_path):
    archive = zip_folder(make_hf_folder(tmp_path / "hf"), tmp_path / "hf.zip")
    response = upload(client, archive.read_bytes(), slug="hf-gpt2")
    assert response.status_code == 302
    record = LanguageModel.objects.get(slug="hf-gpt2")
    assert (record.source_format, record.tokenizer_kind) == ("huggingface", "huggingface")
    check_model(record.pk)
    record.refresh_from_db()
    assert record.status == LanguageModel.Status.READY, record.status_reason


def zip_with(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in entries.items():
            zipped.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zipped.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def bundle_entries(tmp_path: Path) -> dict[str, bytes]:
    folder = make_bundle(tmp_path / "source")
    return {p.name: p.read_bytes() for p in folder.iterdir()}


class Exploit:
    def __reduce__(self):
        return (print, ("unpickled!",))


@pytest.mark.parametrize(
    "make_archive, words",
    [
        (lambda e: zip_with({**e, "pytorch_model.bin": pickle.dumps(Exploit())}), "pickle"),
        (lambda e: zip_with({**e, "/etc/cron.d/x": b"x"}), "absolute path"),
        (lambda e: zip_with({**e, "../../escape.txt": b"x"}), "climbs out"),
        (lambda e: zip_with(e, links=("vocab.json",)), "link"),
        (lambda e: b"this is not a zip file", "not a valid .zip"),
        (lambda e: zip_with({"README.md": b"hello"}), "no config.json"),
        (
            lambda e: zip_with(
                {**e, "config.json": e["config.json"].replace(b'"n_embd": 16', b'"n_embd": 32')}
            ),
            "shape",
        ),
        (
            lambda e: zip_with(
                {
                    **e,
                    "config.json": e["config.json"].replace(
                        b'"vocab_size": 257', b'"vocab_size": 200'
                    ),
                }
            ),
            "vocab_size is 200",
        ),
    ],
)
def test_a_bad_upload_is_refused_and_leaves_nothing(
    client, manager, models_dir, no_worker, tmp_path, make_archive, words
):
    response = upload(client, make_archive(bundle_entries(tmp_path)))
    assert response.status_code == 200
    assert words in response.content.decode()
    assert not LanguageModel.objects.exists()
    assert stored(models_dir) == []
    assert no_worker == []


def test_an_archive_over_the_size_limit_is_refused(
    client, manager, models_dir, no_worker, tmp_path, settings
):
    settings.GLASSBOX = {**settings.GLASSBOX, "MAX_MODEL_MB": 0}
    response = upload(client, zip_with(bundle_entries(tmp_path)))
    assert "the limit is 0 MB" in response.content.decode()
    assert not LanguageModel.objects.exists() and stored(models_dir) == []


def test_a_duplicate_slug_is_refused(client, manager, models_dir, no_worker, bundle_zip):
    assert upload(client, bundle_zip).status_code == 302
    response = upload(client, bundle_zip, name="Again")
    assert "already exists" in response.content.decode()
    assert LanguageModel.objects.count() == 1 and stored(models_dir) == ["uploaded"]


def test_deleting_removes_the_files_too(client, manager, models_dir, no_worker, bundle_zip):
    upload(client, bundle_zip, slug="one")
    upload(client, bundle_zip, slug="two")
    upload(client, bundle_zip, slug="three")
    one = LanguageModel.objects.get(slug="one")
    response = client.post(f"{CHANGELIST_URL}{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    ids = list(LanguageModel.objects.values_list("pk", flat=True))
    client.post(CHANGELIST_URL, {"action": "delete_with_files", "_selected_action": ids})
    assert not LanguageModel.objects.exists()
    assert stored(models_dir) == []


def test_actions_enable_disable_and_default(client, manager, models_dir, no_worker, bundle_zip):
    upload(client, bundle_zip, slug="a")
    upload(client, bundle_zip, slug="b")
    for record in LanguageModel.objects.all():
        check_model(record.pk)
    b = LanguageModel.objects.get(slug="b")
    client.post(CHANGELIST_URL, {"action": "make_default", "_selected_action": [b.pk]})
    assert LanguageModel.objects.default() == b
    client.post(CHANGELIST_URL, {"action": "disable", "_selected_action": [b.pk]})
    assert LanguageModel.objects.default().slug == "a"
    assert [m.slug for m in LanguageModel.objects.available()] == ["a"]
    client.post(CHANGELIST_URL, {"action": "enable", "_selected_action": [b.pk]})
    assert len(LanguageModel.objects.available()) == 2


def test_revalidate_and_try_it_hand_the_check_to_a_worker(
    client, manager, models_dir, no_worker, bundle_zip
):
    upload(client, bundle_zip)
    record = LanguageModel.objects.get()
    check_model(record.pk)
    no_worker.clear()
    client.post(CHANGELIST_URL, {"action": "revalidate", "_selected_action": [record.pk]})
    assert no_worker == [record.pk]
    record.refresh_from_db()
    assert record.status == LanguageModel.Status.PENDING
    client.post(CHANGELIST_URL, {"action": "try_it", "_selected_action": [record.pk]})
    assert no_worker == [record.pk, record.pk]


def test_a_model_whose_files_break_fails_its_check_with_the_reason(
    client, manager, models_dir, no_worker, bundle_zip
):
    upload(client, bundle_zip)
    record = LanguageModel.objects.get()
    (models_dir / "uploaded" / "model.safetensors").write_bytes(b"garbage")
    check_model(record.pk)
    record.refresh_from_db()
    assert record.status == LanguageModel.Status.FAILED
    assert "safetensors" in record.status_reason
    page = client.get(f"{CHANGELIST_URL}{record.pk}/change/").content.decode()
    assert "Failed: " in page


def test_people_without_the_permission_see_nothing(client, models_dir, bundle_zip):
    assert client.get(CHANGELIST_URL).status_code == 302  # anonymous: to the login page
    staff = User.objects.create_user("staff", password="pw-for-tests", is_staff=True)
    client.force_login(staff)
    assert client.get(CHANGELIST_URL).status_code == 403
    assert upload(client, bundle_zip).status_code == 403
    assert b"Language models" not in client.get("/admin/").content
    student = User.objects.create_user("student", password="pw-for-tests")
    client.force_login(student)
    assert client.get(UPLOAD_URL).status_code == 302
    assert not LanguageModel.objects.exists()


def test_the_admin_never_links_model_files(client, manager, models_dir, no_worker, bundle_zip):
    upload(client, bundle_zip)
    record = LanguageModel.objects.get()
    page = client.get(f"{CHANGELIST_URL}{record.pk}/change/").content.decode()
    assert "model.safetensors" not in page
    assert client.get("/static/../models/uploaded/model.safetensors").status_code == 404
    assert json.loads(json.dumps(record.public_facts()))["slug"] == "uploaded"
