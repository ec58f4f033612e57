"""The benchmark's pure helpers: percentiles, ratios, targets and message bookkeeping.

No stack and no timing: only the arithmetic the report is built from.
"""

from __future__ import annotations

import pytest

from webapp.bench import (
    RunResult,
    at_most,
    class_throughput,
    comparison,
    count_errors,
    is_loopback,
    per_token_ms,
    percentile,
    ratio,
    record_message,
    summarize,
    websocket_url,
)


def test_percentile_interpolates_linearly_like_numpy():
    values = [10.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 10.0
    assert percentile(values, 95) == pytest.approx(4.0 + 0.8 * 6.0)  # numpy: 8.8
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([7.0], 95) == 7.0


def test_percentile_of_nothing_is_none_and_bad_q_is_refused():
    assert percentile([], 50) is None
    assert percentile([None, None], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_summarize_skips_missing_values():
    summary = summarize([3.0, None, 1.0, 2.0])
    assert summary == {"n": 3, "p50": 2.0, "p95": 2.9, "min": 1.0, "max": 3.0}
    assert summarize([None]) == {"n": 0, "p50": None, "p95": None, "min": None, "max": None}


def test_per_token_needs_two_steps():
    assert per_token_ms(1.0, 1.5, 11) == pytest.approx(50.0)
    assert per_token_ms(1.0, 1.0, 1) is None
    assert per_token_ms(None, 1.0, 5) is None


def test_ratio_and_its_missing_cases():
    assert ratio(3.0, 2.0) == 1.5
    assert ratio(None, 2.0) is None
    assert ratio(3.0, None) is None
    assert ratio(3.0, 0.0) is None


def test_comparison_gives_ratios_and_overhead():
    stack = {
        "ttft_ms": {"p50": 60.0, "p95": 90.0},
        "per_token_ms": {"p50": 12.0, "p95": 15.0},
        "per_token_ms_after_first_batch": {"p50": 12.5},
        "worker_per_token_ms": {"p50": 11.0},
    }
    direct = {"ttft_ms": {"p50": 20.0, "p95": 30.0}, "per_token_ms": {"p50": 10.0, "p95": 10.0}}
    out = comparison(stack, direct)
    assert out["ttft_ratio_p50"] == 3.0 and out["ttft_ratio_p95"] == 3.0
    assert out["per_token_ratio_p50"] == 1.2 and out["per_token_ratio_p95"] == 1.5
    assert out["overhead_ms_per_token_p50"] == 2.0
    assert out["overhead_ms_per_token_p50_after_first_batch"] == 2.5
    assert out["worker_overhead_ms_per_token_p50"] == 1.0
    assert out["ttft_ms_p50"] == 60.0


def test_comparison_without_direct_runs_has_no_ratios():
    stack = {
        "ttft_ms": {"p50": 60.0, "p95": 90.0},
        "per_token_ms": {"p50": 12.0, "p95": 15.0},
        "per_token_ms_after_first_batch": {"p50": 12.5},
        "worker_per_token_ms": {"p50": 11.0},
    }
    out = comparison(stack, None)
    assert out["ttft_ratio_p50"] is None and out["overhead_ms_per_token_p50"] is None
    assert out["ttft_ms_p50"] == 60.0


def test_targets_are_met_only_with_a_value_within_the_limit():
    assert at_most(1.5, 2.0)["met"] is True
    assert at_most(2.0, 2.0)["met"] is True
    assert at_most(2.1, 2.0)["met"] is False
    assert at_most(None, 2.0) == {"value": None, "limit": 2.0, "met": False}


def test_error_codes_are_counted():
    assert count_errors(["timeout", None, "busy", "timeout"]) == {"busy": 1, "timeout": 2}


def test_addresses():
    assert websocket_url("http://127.0.0.1:8000") == "ws://127.0.0.1:8000/ws/generate/"
    assert websocket_url("https://localhost/") == "wss://localhost/ws/generate/"
    with pytest.raises(ValueError):
        websocket_url("ftp://127.0.0.1")
    assert is_loopback("http://127.0.0.1:8016") and is_loopback("http://localhost:8000")
    assert is_loopback("http://[::1]:8000")
    assert not is_loopback("http://example.org") and not is_loopback("http://10.0.0.1")


def test_record_message_stamps_steps_and_the_first_batch():
    result = RunResult(seed=1, sent_at=10.0)
    stream = [
        ({"type": "queued", "model": "tiny"}, 10.001),
        ({"type": "prompt", "tokens": []}, 10.010),
        ({"type": "step", "token": {"id": 5}, "elapsed_ms": 2.0}, 10.040),
        ({"type": "step", "token": {"id": 6}, "elapsed_ms": 4.0}, 10.041),  # same batch
        ({"type": "step", "token": {"id": 7}, "elapsed_ms": 6.0}, 10.070),
        ({"type": "step", "token": {"id": 8}, "elapsed_ms": 8.0}, 10.100),
    ]
    for message, at in stream:
        assert record_message(result, message, at) is False
    assert record_message(result, {"type": "done", "finish_reason": "length"}, 10.100)
    assert result.completed and result.model == "tiny"
    assert result.token_ids == [5, 6, 7, 8] and result.first_batch_steps == 2
    assert result.ttft_ms == pytest.approx(40.0)
    assert result.ack_ms == pytest.approx(1.0)
    assert result.per_token_ms == pytest.approx(20.0)  # 60 ms over 3 gaps
    assert result.per_token_ms_after_first_batch == pytest.approx(30.0)  # 60 ms over 2
    assert result.worker_per_token_ms == pytest.approx(2.0)


def test_record_message_ends_on_an_error():
    result = RunResult(seed=1)
    assert record_message(result, {"type": "error", "code": "rate_limited"}, 1.0)
    assert not result.completed and result.error == "rate_limited"


def test_the_class_throughput_is_all_tokens_over_the_wall_time_against_one_client():
    # two clients, 10 tokens each, sent at t=1 and t=1.5, done at t=3 and t=5: 20 tokens
    # in 4 s = 5 tok/s; one client alone paced at 100 ms a token = 10 tok/s
    clients = [
        RunResult(
            seed=1,
            sent_at=1.0,
            first_step_at=1.1,
            last_step_at=2.9,
            finished_at=3.0,
            n_steps=10,
            done={"type": "done"},
        ),
        RunResult(
            seed=2,
            sent_at=1.5,
            first_step_at=1.6,
            last_step_at=4.3,
            finished_at=5.0,
            n_steps=10,
            done={"type": "done"},
        ),
        RunResult(seed=3, sent_at=1.0, error="rate_limited"),
    ]
    figures = class_throughput(clients, {"per_token_ms": {"p50": 100.0}})
    assert figures["aggregate_tokens_per_second"] == pytest.approx(5.0)
    assert figures["single_client_tokens_per_second"] == pytest.approx(10.0)
    assert figures["aggregate_vs_single_client"] == pytest.approx(0.5)
    assert figures["tokens_per_second_per_client"]["n"] == 2
