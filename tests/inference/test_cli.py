"""`python -m inference generate|inspect`, as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from inference.__main__ import main

REPO = Path(__file__).resolve().parents[2]


def test_generate_streams_the_prompt_and_its_continuation(bundle_dir, lm, capsys):
    code = main(["generate", str(bundle_dir), "the thing", "-n", "12", "-t", "0", "--stats"])
    out, err = capsys.readouterr()
    ids = lm.tokenizer.encode("the thing")
    expected = [
        e.token_id for e in lm.generate(ids, max_new_tokens=12, temperature=0) if e.type == "step"
    ]
    assert code == 0
    assert out == "the thing" + lm.tokenizer.decode(expected) + "\n"
    assert "tokens/s" in err


def test_inspect_prints_architecture_and_parameter_counts(bundle_dir, lm, capsys):
    assert main(["inspect", str(bundle_dir)]) == 0
    out = capsys.readouterr().out
    assert "layers 2, heads 4, width 32, context 64, vocabulary 300" in out
    assert f"{lm.model.num_parameters():,}" in out
    assert "(attn): CausalSelfAttention" in out


def test_a_bad_model_dir_is_one_clear_line_and_exit_code_2(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("error: no model directory at")


def test_runs_as_a_module(bundle_dir):
    result = subprocess.run(
        [sys.executable, "-m", "inference", "inspect", str(bundle_dir), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert '"total":' in result.stdout
