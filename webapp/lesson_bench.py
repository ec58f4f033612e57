"""How fast each lesson widget draws after a student types: `python -m webapp.lesson_bench`.

    python -m webapp.lesson_bench [--url http://127.0.0.1:8000] [--runs 12] [--lessons a,b]
                                  [--out FILE]

It drives an already running Glassbox (Redis, a warm Celery worker, Daphne) with Debian's
Chromium through Playwright, as a student would: it opens every lesson, waits for each
widget's first drawing, then `--runs` times replaces the text in the widget's prompt box
(`data-role="prompt"`, one input event, as the last keystroke of a student's typing) and
times, inside the page, from that input event to the widget's next complete drawing
(`data-drawn-at`, stamped by `lesson.drawn`). That span holds the widget's debounce, the
websocket round trip, the worker's forward pass and the drawing itself.

Start the stack with the trace rate limit off, since one browser sends many traces:

    GLASSBOX_TRACE_RATE_LIMIT_PER_MINUTE=0 make run

The target (docs/lessons.md): the first drawing within 300 ms p50 of the last keystroke.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
import urllib.request
from typing import Any

TARGET_MS_P50 = 300.0
CHROMIUM = "/usr/bin/chromium"
PROMPTS = (
    "My gentle lord",
    "The cat sat on the mat",
    "O Romeo, Romeo",
    "To be, or not to be",
    "Good morrow, cousin",
    "What light through yonder window",
    "Now is the winter of our discontent",
    "Friends, Romans, countrymen",
)
WAIT_MS = 20_000

# In the page: remember when the prompt box of a widget last changed.
WATCH_INPUT = """(index) => {
    const figure = document.querySelectorAll('figure.widget')[index];
    const box = figure.querySelector('[data-role="prompt"]');
    if (!box || box.dataset.benchWatched) return !!box;
    box.dataset.benchWatched = 'true';
    box.addEventListener('input', () => {
        figure.dataset.benchInputAt = String(performance.now());
    });
    return true;
}"""


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def lesson_slugs(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/lessons/", timeout=10) as response:
        page = response.read().decode()
    return re.findall(r'<li class="course-item" data-slug="([a-z0-9-]+)"', page)


def bench_widget(page, index: int, runs: int) -> dict[str, Any]:
    figure = page.locator("figure.widget").nth(index)
    name = figure.get_attribute("data-widget")
    if figure.get_attribute("data-starts-on") == "button":
        # lesson 13's training run: typing changes the text, Start runs it (and costs the
        # trainer seconds), so there is no drawing after a keystroke to time
        return {"widget": name, "skipped": "runs on its Start button, not on typing"}
    if not page.evaluate(WATCH_INPUT, index):
        return {"widget": name, "skipped": "no data-role=prompt box"}
    box = figure.locator('[data-role="prompt"]')
    latencies, failures = [], 0
    for run in range(runs):
        draws = int(figure.get_attribute("data-draws") or 0)
        box.fill(PROMPTS[run % len(PROMPTS)] + ("" if run < len(PROMPTS) else f" {run}"))
        try:
            page.wait_for_function(
                "([i, n]) => Number(document.querySelectorAll('figure.widget')[i]"
                ".dataset.draws || 0) > n",
                arg=[index, draws],
                timeout=WAIT_MS,
            )
        except Exception:
            failures += 1
            continue
        page.wait_for_timeout(400)  # a late drawing from an earlier request lands by now
        stamps = figure.evaluate("f => [Number(f.dataset.benchInputAt), Number(f.dataset.drawnAt)]")
        latencies.append(stamps[1] - stamps[0])
    return {
        "widget": name,
        "runs": runs,
        "failures": failures,
        "ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "ms_p95": round(percentile(latencies, 0.95), 1) if latencies else None,
        "ms_max": round(max(latencies), 1) if latencies else None,
    }


def bench_lesson(browser, url: str, slug: str, runs: int) -> list[dict[str, Any]]:
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    started = time.perf_counter()
    page.goto(f"{url}/lessons/{slug}/")
    count = page.locator("figure.widget").count()
    results = []
    for index in range(count):
        figure = page.locator("figure.widget").nth(index)
        try:
            page.wait_for_function(
                "i => Number(document.querySelectorAll('figure.widget')[i].dataset.draws || 0) > 0",
                arg=index,
                timeout=WAIT_MS,
            )
        except Exception:
            results.append({"widget": figure.get_attribute("data-widget"), "error": "never drew"})
            continue
        first_ms = (time.perf_counter() - started) * 1000
        result = bench_widget(page, index, runs)
        result.update({"lesson": slug, "page_to_first_drawing_ms": round(first_ms, 1)})
        results.append(result)
        print(f"{slug}: {result}", file=sys.stderr)
    page.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--lessons", default="", help="comma-separated slugs; default all")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if not re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?$", args.url):
        parser.error("--url must be on loopback")
    from playwright.sync_api import sync_playwright

    slugs = [s for s in args.lessons.split(",") if s] or lesson_slugs(args.url)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        widgets = [r for slug in slugs for r in bench_lesson(browser, args.url, slug, args.runs)]
        browser.close()
    medians = [w["ms_p50"] for w in widgets if w.get("ms_p50") is not None]
    report = {
        "benchmark": "webapp.lesson_bench",
        "environment": {"python": platform.python_version(), "machine": platform.machine()},
        "settings": {"url": args.url, "runs": args.runs},
        "widgets": widgets,
        "target": {
            "goal": f"every widget p50 <= {TARGET_MS_P50:.0f} ms",
            "worst_p50": max(medians) if medians else None,
            "met": bool(medians) and max(medians) <= TARGET_MS_P50 and len(medians) == len(widgets),
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
