"""scripts/fetch_tokenizers.py: js-tiktoken's compressed ranks become tiktoken's files."""

from __future__ import annotations

import base64
import io
import json
import tarfile

import pytest

from inference.reference_tokenizers import ENCODINGS, sha256_of
from scripts import fetch_tokenizers
from scripts.fetch_tokenizers import FetchError, expand_bpe_ranks, parse_ranks_module
from tests.environment import TOKENIZERS_DIR
from tests.tokenizer_files import installed_encoding


def b64(token: bytes) -> str:
    return base64.b64encode(token).decode("ascii")


def test_runs_of_consecutive_ranks_are_expanded_in_rank_order():
    # two runs, the second given first, with a gap (as p50k_base has one at 50256)
    bpe_ranks = f"! 5 {b64(b'x')} {b64(b'yz')}\n! 0 {b64(b'a')} {b64(b'b')}\n"
    assert expand_bpe_ranks(bpe_ranks) == (
        f"{b64(b'a')} 0\n{b64(b'b')} 1\n{b64(b'x')} 5\n{b64(b'yz')} 6\n"
    )


def test_a_line_without_a_start_rank_is_refused():
    with pytest.raises(FetchError, match="line 1"):
        expand_bpe_ranks("! QQ==")


def test_the_ranks_module_is_read_as_json():
    source = 'export default {"pat_str":"x","bpe_ranks":"! 0 QQ=="};\n'
    assert parse_ranks_module(source, "tiny") == "! 0 QQ=="
    with pytest.raises(FetchError):
        parse_ranks_module("module.exports = {}", "tiny")


def fake_tarball(path, name: str, bpe_ranks: str) -> None:
    source = ("export default " + json.dumps({"bpe_ranks": bpe_ranks}) + ";").encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(f"package/dist/ranks/{name}.js")
        info.size = len(source)
        archive.addfile(info, io.BytesIO(source))


def test_a_file_whose_hash_is_not_tiktokens_is_never_written(tmp_path):
    tarball = tmp_path / "fake.tgz"
    fake_tarball(tarball, "r50k_base", f"! 0 {b64(b'a')}")
    with pytest.raises(FetchError, match="nothing written"):
        fetch_tokenizers.write_encodings(["r50k_base"], tarball, tmp_path / "out")
    assert not (tmp_path / "out" / "r50k_base.tiktoken").exists()


def test_files_present_and_verified_are_left_alone_without_npm(monkeypatch, capsys):
    for name in ENCODINGS:
        installed_encoding(name)

    def no_npm(cache):
        raise AssertionError("npm must not run when every file is verified")

    monkeypatch.setattr(fetch_tokenizers, "npm_pack", no_npm)
    assert fetch_tokenizers.main(["--out", str(TOKENIZERS_DIR)]) == 0
    assert "present and verified" in capsys.readouterr().out


def test_the_written_files_hash_to_the_pinned_values():
    for name, encoding in ENCODINGS.items():
        installed_encoding(name)
        assert sha256_of((TOKENIZERS_DIR / encoding.file_name).read_bytes()) == encoding.sha256
