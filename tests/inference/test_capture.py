"""CaptureSpec validation, and the shapes of every captured part, on the tiny model."""

from __future__ import annotations

import pytest
import torch

from inference import PARTS, CaptureError, CaptureSpec

IDS = [5, 80, 17, 200, 33, 9]


@pytest.mark.parametrize(
    "spec",
    [
        CaptureSpec.of("nope"),
        CaptureSpec.of("q", layers=[2]),
        CaptureSpec.of("q", layers=[-1]),
        CaptureSpec.of("q", heads=[4]),
        CaptureSpec.of("q", layers=[]),
        CaptureSpec.of("q", heads=[]),
        CaptureSpec.of("q", positions=[]),
        CaptureSpec.of("logit_lens", lens_top_k=0),
        CaptureSpec.of("logit_lens", lens_top_k=101),
    ],
)
def test_it_rejects_a_spec_that_does_not_fit_the_model(lm, spec):
    with pytest.raises(CaptureError):
        lm.trace(IDS, spec)


def test_it_captures_nothing_for_an_empty_spec_and_computes_the_same_logits(lm):
    out = lm.model(torch.tensor([IDS]), capture=CaptureSpec())
    assert out.captured == {}
    full = lm.trace(IDS, CaptureSpec.everything())
    torch.testing.assert_close(out.logits[0], full.logits, atol=1e-6, rtol=1e-5)


def test_it_gives_every_part_its_documented_shape(lm, config):
    trace = lm.trace(IDS, "all", lens_top_k=5)
    L, H, T, C = config.n_layer, config.n_head, len(IDS), config.n_embd
    hs = C // H
    shapes = {
        "token_embeddings": (T, C),
        "position_embeddings": (T, C),
        "residuals": (L + 1, T, C),
        "q": (L, H, T, hs),
        "k": (L, H, T, hs),
        "v": (L, H, T, hs),
        "scores": (L, H, T, T),
        "attention": (L, H, T, T),
        "head_outputs": (L, H, T, C),
        "attn_out": (L, T, C),
        "mlp_pre": (L, T, 4 * C),
        "mlp_post": (L, T, 4 * C),
        "mlp_out": (L, T, C),
        "logits": (T, config.vocab_size),
    }
    for name, shape in shapes.items():
        assert tuple(getattr(trace, name).shape) == shape, name
    for norm in (trace.ln_1, trace.ln_2):
        assert norm.mean.shape == norm.std.shape == (L, T)
        assert norm.out.shape == (L, T, C)
    lens = trace.logit_lens
    assert lens.top_ids.shape == lens.top_probs.shape == (L + 1, T, 5)
    assert lens.target_ranks.shape == lens.target_probs.shape == (L + 1, T)
    assert lens.target_ids.shape == (T,)
    assert set(PARTS) == trace.parts


def test_it_captures_one_attention_row_per_generation_step(lm):
    spec = CaptureSpec.of("attention", layers=[1], heads=[0])
    events = list(
        lm.generate(IDS, max_new_tokens=4, temperature=0, capture=spec, stop_at_end_of_text=False)
    )
    steps = [event for event in events if event.type == "step"]
    assert steps
    for step in steps:
        assert tuple(step.attention.shape) == (1, 1, step.query_position + 1)
