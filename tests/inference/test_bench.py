"""The benchmark runs end to end and reports every figure; its speed is never asserted."""

from __future__ import annotations

import json

import pytest
import torch

from inference import bench
from inference.checkpoint import save_bundle
from inference.config import GPTConfig
from inference.model import GPT
from inference.tokenizer import Tokenizer


def _positive_numbers(figures: dict) -> list[float]:
    """Every number in a {label: {length: ms}} table, so each can be checked."""
    return [value for table in figures.values() for value in table.values()]


@pytest.fixture
def tiny_bundle(tmp_path, tokenizer: Tokenizer):
    """A model directory with a context too short for 256 tokens, to exercise skipping."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=300, block_size=128, n_layer=1, n_head=2, n_embd=32))
    return save_bundle(tmp_path / "tiny", model, tokenizer)


def test_quick_bench_reports_every_figure(tmp_path, tiny_bundle, capsys):
    threads_before = torch.get_num_threads()
    out = tmp_path / "bench.json"

    assert bench.main([str(tiny_bundle), "--quick", "--out", str(out)]) == 0

    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result  # stdout carries the same JSON
    assert torch.get_num_threads() == threads_before  # the bench restores the thread count
    assert list(result)[-1] == "ratios"

    env = result["environment"]
    assert env["threads"] == 1 and env["torch"] and env["platform"] and env["cpu_count"] >= 1
    assert result["settings"]["quick"] is True

    main, tiny = result["models"]
    assert 4_000_000 <= main["parameters"] <= 6_000_000
    for kind in ("no_capture", "capture"):
        assert set(main["prefill_ms"][kind]) == {"64", "256"}
    decode = main["decode_ms_per_token"]
    assert set(decode) == {"cached", "cached_capture", "recompute", "recompute_capture"}
    for table in decode.values():
        assert set(table) == {"64", "256"}
    numbers = _positive_numbers(main["prefill_ms"]) + _positive_numbers(decode)
    assert all(isinstance(x, float) and x > 0 for x in numbers)
    assert main["cache_check"]["allclose"] is True

    hf = main["transformers"]
    if hf["available"]:
        assert hf["logits_check"]["allclose"] is True
        hf_decode = hf["decode_ms_per_token"]
        assert all(x > 0 for x in _positive_numbers(hf_decode))
        assert set(hf_decode["cached_attentions"]) == {"64", "256"}

    ratios = result["ratios"]
    assert ratios == main["ratios"]
    assert ratios["cache_speedup_256"] > 0 and ratios["capture_cost"] > 0
    if hf["available"]:
        assert ratios["vs_transformers"] > 0
    else:
        assert ratios["vs_transformers"] is None
    assert set(result["targets"]) == {
        "cache_speedup_256",
        "capture_cost",
        "full_trace_cost_256",
        "vs_transformers",
    }
    assert main["trace_ms"]["full_capture"]["256"] > main["trace_ms"]["plain"]["256"] > 0
    for target in result["targets"].values():
        assert target["met"] in (True, False, None)

    # 256 tokens do not fit a 128-token context: those figures are left out, not faked
    assert tiny["name"] == "tiny"
    assert set(tiny["decode_ms_per_token"]["cached"]) == {"64"}
    assert tiny["ratios"]["cache_speedup_256"] is None


def test_bad_model_dir_fails_before_timing(tmp_path, capsys):
    assert bench.main([str(tmp_path / "missing"), "--quick"]) == 2
    assert "error:" in capsys.readouterr().err


def test_without_transformers_the_comparison_is_null(monkeypatch):
    monkeypatch.setattr(bench, "_import_transformers", lambda: None)
    result = bench.run([], quick=True)
    assert result["models"][0]["transformers"]["available"] is False
    assert result["ratios"]["vs_transformers"] is None
    assert result["targets"]["vs_transformers"]["met"] is None
    assert result["ratios"]["cache_speedup_256"] > 0
