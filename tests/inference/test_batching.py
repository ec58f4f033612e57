"""The continuous-batching engine: batched requests write what they write alone."""

from __future__ import annotations

import copy
import threading

import pytest
import torch

from inference import CaptureSpec, DoneEvent, GenerationError, PromptEvent, StepEvent, generate
from inference.batching import BatchEngine, BatchRequest, QueuedEvent
from inference.engine_thread import EngineThread
from inference.kv_cache import BatchKVCache, KVCache
from inference.sampling import SamplingSettings

GREEDY = SamplingSettings(temperature=0.0)
SAMPLED = [
    SamplingSettings(temperature=1.0),
    SamplingSettings(temperature=0.8, top_k=20),
    SamplingSettings(temperature=1.3, top_p=0.9),
]


def prompt(length: int, start: int = 3) -> list[int]:
    return [(start + 7 * i) % 250 for i in range(length)]


def alone(model, tokenizer, request: BatchRequest) -> list:
    """The events `generate` yields for the same request, on its own."""
    return list(
        generate(
            model,
            tokenizer,
            request.ids,
            max_new_tokens=request.max_new_tokens,
            settings=request.settings,
            seed=request.seed,
            capture=request.capture,
            n_candidates=request.n_candidates,
            stop_at_end_of_text=request.stop_at_end_of_text,
        )
    )


def of(events: list, request_id: str) -> list:
    return [event for rid, event in events if rid == request_id]


def steps(events: list) -> list[StepEvent]:
    return [e for e in events if isinstance(e, StepEvent)]


def assert_same_generation(batched: list, single: list) -> None:
    """Token for token, probabilities within 1e-4, same positions and finish reason."""
    batched_steps, single_steps = steps(batched), steps(single)
    assert [s.token_id for s in batched_steps] == [s.token_id for s in single_steps]
    for b, s in zip(batched_steps, single_steps, strict=True):
        assert (b.index, b.query_position) == (s.index, s.query_position)
        assert b.sample.prob == pytest.approx(s.sample.prob, abs=1e-4)
        assert b.sample.raw_prob == pytest.approx(s.sample.raw_prob, abs=1e-4)
        assert [c.token_id for c in b.sample.candidates] == [
            c.token_id for c in s.sample.candidates
        ]
        for bc, sc in zip(b.sample.candidates, s.sample.candidates, strict=True):
            assert bc.raw_prob == pytest.approx(sc.raw_prob, abs=1e-4)
    b_done, s_done = batched[-1], single[-1]
    assert isinstance(b_done, DoneEvent) and isinstance(s_done, DoneEvent)
    assert (b_done.finish_reason, b_done.new_tokens, b_done.prompt_tokens, b_done.seed) == (
        s_done.finish_reason,
        s_done.new_tokens,
        s_done.prompt_tokens,
        s_done.seed,
    )


# --- the batched KV cache -------------------------------------------------------------


def filled_cache(config, length: int, value: float) -> KVCache:
    cache = KVCache(config, batch_size=1, max_len=length)
    cache.k[:, :, :, :length] = value
    cache.v[:, :, :, :length] = -value
    cache.advance(length)
    return cache


def test_batch_cache_writes_each_row_at_its_own_position(config):
    cache = BatchKVCache(config, max_batch=3, max_len=16)
    assert cache.add(filled_cache(config, 3, 1.0)) == 0
    assert cache.add(filled_cache(config, 5, 2.0)) == 1
    positions = cache.positions()
    assert positions.tolist() == [3, 5]
    nh, hs = config.n_head, config.head_size
    k_new = torch.stack([torch.full((nh, 1, hs), 10.0), torch.full((nh, 1, hs), 20.0)])
    k, v = cache.store(0, k_new, -k_new)
    assert k.shape == (2, nh, 6, hs)  # the longest row after the step
    assert torch.all(cache.k[0, 0, :, 3] == 10.0) and torch.all(cache.k[0, 1, :, 5] == 20.0)
    assert torch.all(cache.v[0, 1, :, 5] == -20.0)
    assert torch.all(cache.k[0, 0, :, :3] == 1.0) and torch.all(cache.k[0, 0, :, 4:] == 0.0)
    assert torch.all(cache.k[0, 1, :, :5] == 2.0)
    assert torch.all(cache.k[1, :, :, 3:6] != 10.0)  # the other layer is untouched
    mask = cache.key_mask()[:, 0, 0]
    assert mask.tolist() == [[True] * 4 + [False] * 2, [True] * 6]
    cache.advance()
    assert cache.lengths == [4, 6]
    assert cache.remove(0) == 1  # the last row moves into the freed slot
    assert cache.lengths == [6]
    assert torch.all(cache.k[0, 0, :, :5] == 2.0) and torch.all(cache.k[0, 0, :, 5] == 20.0)
    assert cache.remove(0) is None and cache.n_rows == 0


def test_batch_cache_refuses_a_full_batch_and_a_full_row(config):
    cache = BatchKVCache(config, max_batch=1, max_len=4)
    cache.add(filled_cache(config, 4, 1.0))
    with pytest.raises(ValueError, match="batch is full"):
        cache.add(filled_cache(config, 2, 1.0))
    with pytest.raises(ValueError, match="row is full"):
        cache.positions()


def test_decode_step_matches_each_row_run_alone(model, config):
    lengths = [3, 9, 5]
    batch = BatchKVCache(config, max_batch=4)
    singles = []
    for length in lengths:
        single = KVCache(config, batch_size=1)
        model(torch.tensor([prompt(length)]), kv_cache=single)
        batch.add(single)
        singles.append(single)
    new = torch.tensor([11, 12, 13])
    with torch.inference_mode():
        logits, maps = model.decode_step(new, batch, attention_rows=[1], attention_layers=[0])
        for row, single in enumerate(singles):
            out = model(new[row].view(1, 1), kv_cache=single, capture=CaptureSpec.of("attention"))
            torch.testing.assert_close(logits[row], out.logits[0, -1], atol=1e-5, rtol=1e-5)
            if row == 1:
                expected = out.attentions[0, 0, :, 0]  # layer 0, this row: (nh, S)
                torch.testing.assert_close(maps[0, 0, :, :10], expected, atol=1e-5, rtol=1e-5)
    assert batch.lengths == [4, 10, 6]
    assert maps.shape == (1, 1, config.n_head, 10)


# --- the engine: batched equals alone ---------------------------------------------------


@pytest.mark.parametrize("settings", [GREEDY, *SAMPLED])
def test_requests_joining_at_different_steps_write_what_they_write_alone(
    model, tokenizer, settings
):
    engine = BatchEngine(model, tokenizer, max_batch=3)
    requests = [
        BatchRequest(prompt(n, start=n), max_new_tokens=m, settings=settings, seed=seed)
        for n, m, seed in [(4, 12, 1), (11, 7, 2), (1, 15, 3), (20, 9, 4), (7, 10, 5)]
    ]
    events = []
    engine.submit(requests[0])
    events += engine.step()
    events += engine.step()
    engine.submit(requests[1])
    events += engine.step()
    for request in requests[2:]:  # more than the batch holds: some wait
        engine.submit(request)
    events += engine.run()
    for request in requests:
        mine = of(events, request.request_id)
        assert isinstance(mine[0], (PromptEvent, QueuedEvent))
        assert_same_generation(mine, alone(model, tokenizer, request))
    assert engine.cache.n_rows == 0 and not engine.has_work


def test_each_request_keeps_its_own_seed_and_settings_in_one_batch(model, tokenizer):
    engine = BatchEngine(model, tokenizer, max_batch=8)
    requests = [
        BatchRequest(prompt(3 + i), max_new_tokens=10, settings=s, seed=100 + i)
        for i, s in enumerate([GREEDY, *SAMPLED, *SAMPLED])
    ]
    for request in requests:
        engine.submit(request)
    events = engine.run()
    for request in requests:
        assert_same_generation(of(events, request.request_id), alone(model, tokenizer, request))


def test_a_request_that_fills_the_context_stops_as_it_does_alone(model, tokenizer, config):
    engine = BatchEngine(model, tokenizer, max_batch=2)
    long = BatchRequest(prompt(config.block_size - 3), max_new_tokens=10, seed=1)
    short = BatchRequest(prompt(2), max_new_tokens=10, seed=2)
    engine.submit(long)
    engine.submit(short)
    events = engine.run()
    assert of(events, long.request_id)[-1].finish_reason == "context_full"
    for request in (long, short):
        assert_same_generation(of(events, request.request_id), alone(model, tokenizer, request))


def test_a_request_without_a_seed_reports_the_one_it_used(model, tokenizer):
    engine = BatchEngine(model, tokenizer)
    request = BatchRequest(prompt(5), max_new_tokens=6)
    engine.submit(request)
    events = engine.run()
    seed = events[-1][1].seed
    assert isinstance(seed, int)
    request.seed = seed
    assert_same_generation([e for _, e in events], alone(model, tokenizer, request))


# --- leaving: finishing, cancelling -----------------------------------------------------


def test_a_finished_request_leaves_at_once_and_the_others_continue(model, tokenizer):
    engine = BatchEngine(model, tokenizer, max_batch=3)
    short = BatchRequest(prompt(6), max_new_tokens=3, seed=1)
    longer = [BatchRequest(prompt(4 + i), max_new_tokens=12, seed=10 + i) for i in range(2)]
    for request in (short, *longer):
        engine.submit(request)
    events = engine.step()  # prefill (first token) and one batched step: 2 tokens each
    events += engine.step()  # the third token: `short` is done
    assert isinstance(of(events, short.request_id)[-1], DoneEvent)
    assert engine.cache.n_rows == 2
    assert short.request_id not in [r.request.request_id for r in engine.running]
    events += engine.run()
    for request in (short, *longer):
        assert_same_generation(of(events, request.request_id), alone(model, tokenizer, request))


def test_a_cancelled_request_leaves_at_once_and_its_row_goes_to_the_next(model, tokenizer):
    engine = BatchEngine(model, tokenizer, max_batch=2)
    first, second, third = (
        BatchRequest(prompt(5 + i), max_new_tokens=10, settings=SAMPLED[0], seed=i)
        for i in range(3)
    )
    for request in (first, second, third):
        engine.submit(request)
    events = engine.step() + engine.step()
    assert engine.waiting_position(third.request_id) == 0
    assert engine.cancel(first.request_id)
    step = engine.step()
    done = [e for rid, e in step if rid == first.request_id]
    assert len(done) == 1 and done[0].finish_reason == "cancelled"
    assert done[0].new_tokens == 3  # 1 from the prefill, 1 per step before the cancel
    assert isinstance(of(step, third.request_id)[0], PromptEvent)  # took the row at once
    events += step + engine.run()
    cancelled = steps(of(events, first.request_id))
    assert [s.token_id for s in cancelled] == [
        s.token_id for s in steps(alone(model, tokenizer, first))[:3]
    ]
    for request in (second, third):
        assert_same_generation(of(events, request.request_id), alone(model, tokenizer, request))
    assert not engine.cancel(first.request_id)  # done: nothing left to cancel


# --- the waiting line -------------------------------------------------------------------


def test_the_waiting_line_is_first_come_first_served_with_positions(model, tokenizer):
    engine = BatchEngine(model, tokenizer, max_batch=2)
    requests = [BatchRequest(prompt(4), max_new_tokens=3 + i, seed=i) for i in range(5)]
    for request in requests:
        engine.submit(request)
    first_step = engine.step()
    queued = {rid: e.position for rid, e in first_step if isinstance(e, QueuedEvent)}
    assert queued == {r.request_id: i for i, r in enumerate(requests[2:])}
    assert queued == {r.request_id: engine.waiting_position(r.request_id) for r in requests[2:]}
    assert engine.waiting_position(requests[0].request_id) is None  # running
    engine.cancel(requests[3].request_id)  # a waiting request can be cancelled too
    second_step = engine.step()
    done = of(second_step, requests[3].request_id)
    assert done == [DoneEvent("cancelled", 4, 0, 3, 0.0, 0.0, 0.0, 0.0)]
    assert QueuedEvent(1) in of(second_step, requests[4].request_id)  # moved up
    events = first_step + second_step + engine.run()
    started = [rid for rid, e in events if isinstance(e, PromptEvent)]
    expected = [r.request_id for i, r in enumerate(requests) if i != 3]
    assert started == expected


def test_the_prefill_budget_spreads_a_crowd_over_steps(model, tokenizer):
    engine = BatchEngine(model, tokenizer, max_batch=4, prefill_tokens_per_step=10)
    requests = [BatchRequest(prompt(8), max_new_tokens=5, seed=i) for i in range(3)]
    for request in requests:
        engine.submit(request)
    engine.step()
    assert engine.cache.n_rows == 1
    engine.step()
    assert engine.cache.n_rows == 2


# --- attention capture ------------------------------------------------------------------


def test_attention_rows_go_to_the_requests_that_asked_only(model, tokenizer, config):
    engine = BatchEngine(model, tokenizer, max_batch=3)
    spec = CaptureSpec.of("attention", layers=[1], heads=[0, 2])
    watched = BatchRequest(prompt(6), max_new_tokens=6, seed=1, capture=spec)
    everything = BatchRequest(
        prompt(3), max_new_tokens=5, seed=2, capture=CaptureSpec.of("attention")
    )
    plain = BatchRequest(prompt(9), max_new_tokens=6, seed=3)
    for request in (watched, everything, plain):
        engine.submit(request)
    events = engine.run()
    for request in (watched, everything):
        mine, single = of(events, request.request_id), alone(model, tokenizer, request)
        assert_same_generation(mine, single)
        torch.testing.assert_close(mine[0].attention, single[0].attention)
        for b, s in zip(steps(mine), steps(single), strict=True):
            assert b.attention.shape == s.attention.shape  # (L, H, query_position + 1)
            torch.testing.assert_close(b.attention, s.attention, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(
                b.captured["attention"], s.captured["attention"], atol=1e-5, rtol=1e-5
            )
    assert steps(of(events, watched.request_id))[-1].attention.shape == (1, 2, 11)
    assert all(e.attention is None for e in of(events, plain.request_id)[:-1])


# --- bad requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ids": []}, "empty"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"n_candidates": 0}, "candidates"),
        ({"capture": CaptureSpec.of("q")}, "attention only"),
        ({"settings": SamplingSettings(temperature=9.0)}, "temperature"),
    ],
)
def test_a_bad_request_is_refused_with_a_sentence(model, tokenizer, change, message):
    engine = BatchEngine(model, tokenizer)
    request = BatchRequest(**{"ids": prompt(4), "max_new_tokens": 4, **change})
    with pytest.raises(ValueError, match=message):
        engine.submit(request)
    assert not engine.has_work


def test_a_short_row_refuses_a_generation_it_cannot_hold(model, tokenizer):
    engine = BatchEngine(model, tokenizer, max_len=16)
    with pytest.raises(GenerationError, match="16 positions"):
        engine.submit(BatchRequest(prompt(10), max_new_tokens=8))
    fits = BatchRequest(prompt(10), max_new_tokens=7, seed=4, request_id="fits")
    engine.submit(fits)
    with pytest.raises(GenerationError, match="already running"):
        engine.submit(BatchRequest(prompt(3), max_new_tokens=2, request_id="fits"))
    events = engine.run()  # the row holds exactly the whole generation
    assert_same_generation([e for _, e in events], alone(model, tokenizer, fits))


# --- the engine thread ------------------------------------------------------------------


def test_many_threads_share_one_engine_thread(model, tokenizer):
    server = EngineThread(BatchEngine(model, tokenizer, max_batch=3))
    requests = [
        BatchRequest(prompt(3 + 2 * i), max_new_tokens=8, settings=SAMPLED[i % 3], seed=i)
        for i in range(6)
    ]
    results: dict[str, list] = {}

    def client(request: BatchRequest) -> None:
        ticket = server.submit(request)
        results[request.request_id] = list(ticket.events(timeout=30))

    threads = [threading.Thread(target=client, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        for request in requests:
            assert_same_generation(results[request.request_id], alone(model, tokenizer, request))
    finally:
        server.close()
    assert not server.alive


def test_a_thread_cancels_its_request_while_the_others_go_on(model, tokenizer):
    server = EngineThread(BatchEngine(model, tokenizer, max_batch=2))
    other = BatchRequest(prompt(5), max_new_tokens=20, seed=2)
    other_ticket = server.submit(other)
    ticket = server.submit(BatchRequest(prompt(4), max_new_tokens=60, seed=1))
    seen = []
    for event in ticket.events(timeout=30):
        seen.append(event)
        if isinstance(event, StepEvent) and event.index == 2:
            ticket.cancel()
    assert seen[-1].finish_reason == "cancelled" and seen[-1].new_tokens < 60
    assert_same_generation(list(other_ticket.events(timeout=30)), alone(model, tokenizer, other))
    with pytest.raises(GenerationError, match="empty"):
        server.submit(BatchRequest([]))
    server.close()
    with pytest.raises(RuntimeError, match="closed"):
        server.submit(BatchRequest(prompt(3)))


def test_a_failed_step_reaches_its_requests_and_the_thread_goes_on(model, tokenizer):
    engine = BatchEngine(model, tokenizer, max_batch=2)
    server = EngineThread(engine)
    real_step = engine.step
    calls = []

    def failing_step():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("device out of memory")
        return real_step()

    engine.step = failing_step
    with pytest.raises(RuntimeError, match="out of memory"):
        list(server.submit(BatchRequest(prompt(4), max_new_tokens=3, seed=1)).events(timeout=30))
    after = BatchRequest(prompt(4), max_new_tokens=3, seed=1)
    assert_same_generation(
        list(server.submit(after).events(timeout=30)), alone(model, tokenizer, after)
    )
    server.close()


# --- devices and dtypes -----------------------------------------------------------------


def test_the_engine_runs_on_the_models_dtype(model, tokenizer):
    half = copy.deepcopy(model).to(torch.bfloat16)
    engine = BatchEngine(half, tokenizer, max_batch=2)
    requests = [BatchRequest(prompt(3 + 4 * i), max_new_tokens=5, seed=i) for i in range(3)]
    for request in requests:
        engine.submit(request)
    events = engine.run()
    for request in requests:
        done = of(events, request.request_id)[-1]
        assert done.finish_reason == "length" and done.new_tokens == 5
    assert engine.cache.k.dtype == torch.bfloat16


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_batched_still_equals_alone(model, tokenizer):
    gpu = copy.deepcopy(model).to("cuda")
    engine = BatchEngine(gpu, tokenizer, max_batch=2)
    spec = CaptureSpec.of("attention", layers=[0])
    requests = [
        BatchRequest(prompt(4 + 5 * i), max_new_tokens=8, settings=s, seed=i, capture=spec)
        for i, s in enumerate([GREEDY, SAMPLED[0], SAMPLED[1]])
    ]
    for request in requests:
        engine.submit(request)
    events = engine.run()
    for request in requests:
        assert_same_generation(of(events, request.request_id), alone(gpu, tokenizer, request))
