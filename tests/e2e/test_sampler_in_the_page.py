"""static/js/sampler.js, run in Chromium, must agree with the server's sampler
(inference/sampling.py) on the same logits: the same kept tokens, the same probabilities."""

from __future__ import annotations

import itertools

import pytest
import torch

from inference.sampling import SamplingSettings, final_distribution

pytestmark = pytest.mark.slow

TEMPERATURES = (0, 0.3, 1.0, 2.5)
TOP_KS = (0, 1, 5, 40)
TOP_PS = (1.0, 0.9, 0.5, 0.05)

RUN_SAMPLER = """async ([logits, grid]) => {
    const { finalDistribution, keptCount } = await import('/static/js/sampler.js');
    return grid.map(([temperature, topK, topP]) => {
        const probs = finalDistribution(logits, { temperature, topK, topP });
        return { kept: keptCount(probs), probs: Array.from(probs) };
    });
}"""


def on_the_boundary(logits: torch.Tensor, settings: SamplingSettings) -> bool:
    """True when some token's mass-before lands within float error of top_p: there, float32
    (server) and float64 (page) may honestly disagree by one token."""
    if settings.temperature == 0 or settings.top_p >= 1:
        return False
    probs = torch.softmax(logits.double() / settings.temperature, dim=-1)
    ordered = torch.sort(probs, descending=True, stable=True).values
    if settings.top_k:
        ordered = ordered[: settings.top_k]
    before = torch.cumsum(ordered / ordered.sum(), 0) - ordered / ordered.sum()
    return bool(((before - settings.top_p).abs() < 1e-5).any())


def test_the_page_resamples_exactly_as_the_server_does(stack, browser):
    page = browser.new_page()
    page.goto(stack.http_url + "/lessons/")
    generator = torch.Generator().manual_seed(7)
    logits = torch.randn(4096, generator=generator) * 3
    logits[17] = logits[18] = float(logits.max()) + 1  # a tie at the top: order must hold
    grid = list(itertools.product(TEMPERATURES, TOP_KS, TOP_PS))
    results = page.evaluate(RUN_SAMPLER, [logits.tolist(), grid])
    checked = 0
    for (temperature, top_k, top_p), result in zip(grid, results, strict=True):
        settings = SamplingSettings(temperature=temperature, top_k=top_k, top_p=top_p)
        if on_the_boundary(logits, settings):
            continue
        expected = final_distribution(logits, settings).double()
        got = torch.tensor(result["probs"], dtype=torch.float64)
        assert result["kept"] == int((expected > 0).sum()), (temperature, top_k, top_p)
        assert torch.equal(got > 0, expected > 0), (temperature, top_k, top_p)
        assert float((got - expected).abs().max()) < 1e-6, (temperature, top_k, top_p)
        checked += 1
    assert checked >= len(grid) - 4  # boundary cases are rare, not the rule
    page.close()
