"""Lesson pages in the browser for the widget tests: open one (collecting page errors), and
wait until a widget's figure meets a condition, failing at once with the sentence of an
error the widget shows."""

from __future__ import annotations

import base64

import numpy as np


def open_lesson_page(stack, browser, slug: str, width: int = 1366, height: int = 900):
    """(page, errors): the lesson's page, and the JavaScript errors it raises from now on."""
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{stack.http_url}/lessons/{slug}/")
    return page, errors


def wait_for_widget(
    page, root: str, condition: str, names: str = "", timeout: int = 60_000
) -> None:
    """Until the JavaScript `condition` holds, with `f` the figure at `root`, `draws` its
    count of drawings, and whatever `names` (JavaScript statements) defines beside them."""
    page.wait_for_function(
        f"""(root) => {{
            const f = document.querySelector(root);
            if (!f) return false;
            const failed = f.querySelector('.widget-status[data-state="error"]');
            if (failed) throw new Error(failed.textContent);
            const draws = Number(f.dataset.draws || 0);
            {names}
            return Boolean({condition});
        }}""",
        arg=root,
        timeout=timeout,
    )


def tensor_of(payload) -> np.ndarray:
    """A reply's tensor, decoded here from its base64 (float16 or float32), as float64."""
    dtype = "<f2" if payload["dtype"] == "float16" else "<f4"
    data = np.frombuffer(base64.b64decode(payload["data"]), dtype=dtype)
    return data.reshape(payload["shape"]).astype(np.float64)
