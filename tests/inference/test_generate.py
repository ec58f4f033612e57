"""The event stream: order, determinism, finish reasons, attention rows, bad requests."""

from __future__ import annotations

import pytest
import torch

from inference import DoneEvent, GenerationError, PromptEvent, StepEvent
from inference.capture import CaptureSpec
from inference.sampling import SamplingError

from .conftest import EOT_ID

ATTENTION = CaptureSpec.of("attention")


def run(lm, ids, **kwargs):
    events = list(lm.generate(ids, **kwargs))
    prompt, steps, done = events[0], events[1:-1], events[-1]
    assert isinstance(prompt, PromptEvent) and isinstance(done, DoneEvent)
    assert all(isinstance(step, StepEvent) for step in steps)
    return prompt, steps, done


def test_events_come_in_order_with_the_prompt_first(lm):
    ids = lm.tokenizer.encode("the thing")
    prompt, steps, done = run(lm, ids, max_new_tokens=5, seed=1)
    assert [t.id for t in prompt.tokens] == ids
    assert [s.index for s in steps] == [0, 1, 2, 3, 4]
    assert done.finish_reason == "length"
    assert done.new_tokens == 5 and done.prompt_tokens == len(ids)
    assert done.seed == 1
    assert 0 < done.time_to_first_token_ms <= done.total_ms
    assert done.tokens_per_second > 0


def test_greedy_generation_equals_recomputing_argmax(lm):
    ids = lm.tokenizer.encode("in the")
    _, steps, _ = run(lm, ids, max_new_tokens=20, temperature=0, stop_at_end_of_text=False)
    sequence = list(ids)
    known = torch.tensor(lm.tokenizer.known_ids())
    with torch.no_grad():
        for _ in range(20):
            logits = lm.model(torch.tensor([sequence])).logits[0, -1]
            sequence.append(int(known[logits[known].argmax()]))
    assert [s.token_id for s in steps] == sequence[len(ids) :]


def test_same_seed_same_tokens(lm):
    ids = lm.tokenizer.encode("thing")
    settings = dict(max_new_tokens=25, temperature=1.3, top_k=50, top_p=0.95)
    first = [s.token_id for s in run(lm, ids, seed=42, **settings)[1]]
    again = [s.token_id for s in run(lm, ids, seed=42, **settings)[1]]
    other = [s.token_id for s in run(lm, ids, seed=43, **settings)[1]]
    assert first == again
    assert first != other


def test_step_attention_is_the_row_of_the_query_that_chose_the_token(lm):
    ids = lm.tokenizer.encode("the")
    prompt, steps, _ = run(
        lm, ids, max_new_tokens=6, seed=3, capture=ATTENTION, stop_at_end_of_text=False
    )
    full = lm.trace(ids + [s.token_id for s in steps]).attention  # (L, H, T, T)
    torch.testing.assert_close(prompt.attention, full[:, :, : len(ids), : len(ids)])
    for step in steps:
        q = step.query_position
        assert q == len(ids) - 1 + step.index
        assert step.attention.shape == (lm.config.n_layer, lm.config.n_head, q + 1)
        torch.testing.assert_close(step.attention, full[:, :, q, : q + 1], atol=1e-5, rtol=1e-5)


def test_no_attention_unless_asked(lm):
    prompt, steps, _ = run(lm, [1, 2, 3], max_new_tokens=2, seed=0)
    assert prompt.attention is None and steps[0].attention is None


def test_stops_at_end_of_text(lm):
    # make <|endoftext|> overwhelmingly likely: the head reads the final norm's bias
    with torch.no_grad():
        lm.model.transformer.ln_f.weight.zero_()
        lm.model.transformer.ln_f.bias.copy_(lm.model.transformer.wte.weight[EOT_ID] * 100)
    _, steps, done = run(lm, [5, 6], max_new_tokens=10, temperature=0)
    assert [s.token_id for s in steps] == [EOT_ID]
    assert done.finish_reason == "end_of_text"


def test_stops_when_the_context_is_full(lm):
    block = lm.config.block_size
    prompt = [7] * (block - 4)
    _, steps, done = run(lm, prompt, max_new_tokens=50, seed=0, stop_at_end_of_text=False)
    # the tokens at positions block-4 .. block-1 are fed back, plus one sampled from the last
    assert len(steps) == 5
    assert done.finish_reason == "context_full"


def test_a_full_length_prompt_still_yields_one_token(lm):
    _, steps, done = run(lm, [7] * lm.config.block_size, max_new_tokens=5, seed=0)
    assert len(steps) == 1 and done.finish_reason in ("context_full", "end_of_text")


def test_cancelled_between_steps(lm):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 3

    _, steps, done = run(
        lm, [1, 2], max_new_tokens=50, seed=0, should_stop=should_stop, stop_at_end_of_text=False
    )
    assert len(steps) == 3
    assert done.finish_reason == "cancelled" and done.new_tokens == 3


def test_candidates_are_reported_per_step(lm):
    _, steps, _ = run(
        lm, [1, 2], max_new_tokens=3, seed=0, n_candidates=4, stop_at_end_of_text=False
    )
    for step in steps:
        assert len(step.sample.candidates) == 4
        assert step.token.bytes == lm.tokenizer.token_bytes(step.token_id)


@pytest.mark.parametrize(
    "ids, kwargs, error, message",
    [
        ([], {}, GenerationError, "empty"),
        ([1] * 65, {}, GenerationError, "at most 64"),
        ([1, 400], {}, GenerationError, "outside the model's vocabulary"),
        ([1], {"max_new_tokens": 0}, GenerationError, "max_new_tokens"),
        ([1], {"temperature": -1}, SamplingError, "temperature"),
        ([1], {"top_p": 0}, SamplingError, "top_p"),
    ],
)
def test_bad_requests_raise_before_any_event(lm, ids, kwargs, error, message):
    with pytest.raises(error, match=message):
        next(lm.generate(ids, **kwargs))


def test_trace_returns_logits_and_attention_without_a_batch_dimension(lm):
    ids = lm.tokenizer.encode("the thing")
    trace = lm.trace(ids)
    config = lm.config
    assert trace.logits.shape == (len(ids), config.vocab_size)
    assert trace.attention.shape == (config.n_layer, config.n_head, len(ids), len(ids))
    assert trace.residuals.shape == (config.n_layer + 1, len(ids), config.n_embd)


def test_ids_beyond_the_tokenizer_are_never_sampled(lm):
    """The model's vocabulary (300) is padded beyond the tokenizer's 264 ids."""
    unknown = 280
    assert unknown not in lm.tokenizer.known_ids()
    with torch.no_grad():  # make the padded id the model's favourite by far
        lm.model.transformer.ln_f.weight.zero_()
        lm.model.transformer.ln_f.bias.copy_(lm.model.transformer.wte.weight[unknown] * 100)
    for temperature in (0, 1.0, 5.0):
        _, steps, _ = run(lm, [1, 2], max_new_tokens=5, temperature=temperature, seed=0)
        assert all(s.token_id in lm.tokenizer.known_ids() for s in steps)
