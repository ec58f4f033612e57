"""The batching benchmark runs end to end and reports every figure; speed is never asserted."""

from __future__ import annotations

import json

import torch

from inference import batch_bench


def test_quick_batch_bench_reports_both_ways_for_every_count(tmp_path, bundle_dir, capsys):
    threads_before = torch.get_num_threads()
    out = tmp_path / "batch.json"

    assert batch_bench.main([str(bundle_dir), "--quick", "--out", str(out)]) == 0

    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert torch.get_num_threads() == threads_before
    assert [case["requests"] for case in result["cases"]] == list(batch_bench.QUICK_COUNTS)
    for case in result["cases"]:
        assert case["same_tokens"] is True  # the engine wrote what generate wrote
        for way in ("sequential", "engine"):
            figures = case[way]
            assert figures["tokens_per_second"] > 0
            assert 0 <= figures["ttft_ms"]["median"] <= figures["ttft_ms"]["max"]


def test_a_missing_model_directory_is_an_error_sentence(tmp_path, capsys):
    assert batch_bench.main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
