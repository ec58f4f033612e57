"""A staff user uploads a model in the admin; a worker checks it; a student generates with it."""

from __future__ import annotations

import pytest

from tests.factories import make_bundle, zip_folder

pytestmark = pytest.mark.slow


def test_a_staff_upload_becomes_a_model_students_can_use(stack, browser, tmp_path):
    stack.manage(
        "shell",
        "-c",
        (
            "from django.contrib.auth.models import User; "
            "User.objects.filter(username='admin').exists() or "
            "User.objects.create_superuser('admin', 'admin@example.com', 'correct-horse-battery')"
        ),
    )
    archive = zip_folder(make_bundle(tmp_path / "bundle", seed=5), tmp_path / "tiny.zip")

    page = browser.new_page()
    page.goto(stack.http_url + "/admin/login/?next=/admin/catalog/languagemodel/upload/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.set_input_files("#id_archive", str(archive))
    page.fill("#id_slug", "tiny-upload")
    page.fill("#id_name", "Tiny upload")
    page.click("input[name=_upload]")
    page.wait_for_selector("text=passed the file checks")

    # the worker loads it and generates a few tokens; the page says Ready after a refresh
    for _ in range(60):
        if "Ready" in page.inner_text("#content"):
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "Ready" in page.inner_text("#content")

    page.goto(stack.http_url + "/playground/")
    page.select_option("#model", "tiny-upload")
    page.fill("#prompt", "hello")
    page.click("#generate")
    page.wait_for_function(
        "document.querySelector('#status').textContent.toLowerCase().includes('done')",
        timeout=30_000,
    )
    assert page.locator("#tokens .token.generated").count() >= 1
    page.close()
