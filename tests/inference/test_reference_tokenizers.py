"""OpenAI's encodings from local rank files: published ids, hash checks, missing files."""

from __future__ import annotations

import inspect
import shutil

import pytest
from tiktoken_ext import openai_public

from inference.reference_tokenizers import (
    CL100K_PATTERN,
    ENCODINGS,
    O200K_PATTERN_PARTS,
    ReferenceTokenizerError,
    clear_cache,
    encoding_status,
    load_encoding,
)
from tests.environment import TOKENIZERS_DIR
from tests.tokenizer_files import installed_encoding


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


def test_gpt2_ids_of_hello_world_are_the_published_ones():
    # the lesson's correction of the seed: "Hello world!" is [15496, 995, 0] in GPT-2
    assert installed_encoding("r50k_base").encode("Hello world!") == [15496, 995, 0]


# ids from tiktoken's own tests (tests/test_encoding.py: test_simple, test_simple_regex,
# test_basic_encode, test_encode_surrogate_pairs); o200k's "hello world" from OpenAI's
# harmony tests (o200k_harmony shares o200k_base's ranks)
@pytest.mark.parametrize(
    "name, text, ids",
    [
        ("r50k_base", "hello world", [31373, 995]),
        ("r50k_base", "hello <|endoftext|>", [31373, 220, 50256]),
        ("p50k_base", "hello world", [31373, 995]),
        ("cl100k_base", "hello world", [15339, 1917]),
        ("cl100k_base", "hello <|endoftext|>", [15339, 220, 100257]),
        ("cl100k_base", "rer", [38149]),
        ("cl100k_base", "'rer", [2351, 81]),
        ("cl100k_base", "today\n ", [31213, 198, 220]),
        ("cl100k_base", "today\n \n", [31213, 27907]),
        ("cl100k_base", "today\n  \n", [31213, 14211]),
        ("cl100k_base", " \x850", [220, 126, 227, 15]),
        ("cl100k_base", "👍", [9468, 239, 235]),
        ("o200k_base", "hello world", [24912, 2375]),
    ],
)
def test_encodings_give_the_published_ids(name, text, ids):
    assert installed_encoding(name).encode(text) == ids


def test_gpt2_repeated_zeros_follow_the_merges():
    # tiktoken's test_simple_repeated
    gpt2 = installed_encoding("r50k_base")
    assert gpt2.encode("0000") == [2388]
    assert gpt2.encode("000000000") == [10535, 830]


def test_a_partial_utf8_token_is_shown_as_bytes():
    thumbs = installed_encoding("cl100k_base").describe([9468, 239, 235])
    assert [t.partial for t in thumbs] == [True, True, True]
    assert b"".join(t.bytes for t in thumbs) == "👍".encode()


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_the_catalogue_vocabulary_sizes_match_the_files(name):
    assert installed_encoding(name).n_vocab == ENCODINGS[name].n_vocab


def test_patterns_written_here_are_the_installed_tiktokens():
    # they only exist inside functions that download, so we keep copies; this catches drift
    assert CL100K_PATTERN in inspect.getsource(openai_public.cl100k_base)
    source = inspect.getsource(openai_public.o200k_base)
    assert all(part in source for part in O200K_PATTERN_PARTS)


def test_a_loaded_encoding_is_cached():
    installed_encoding("r50k_base")
    assert load_encoding("r50k_base", TOKENIZERS_DIR) is load_encoding("r50k_base", TOKENIZERS_DIR)


def test_it_refuses_a_truncated_rank_file(tmp_path):
    installed_encoding("r50k_base")
    data = (TOKENIZERS_DIR / "r50k_base.tiktoken").read_bytes()
    (tmp_path / "r50k_base.tiktoken").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReferenceTokenizerError, match="fails its check") as caught:
        load_encoding("r50k_base", tmp_path)
    assert caught.value.code == "corrupt"
    status = encoding_status("r50k_base", tmp_path)
    assert (status.installed, status.problem) == (False, "corrupt")


def test_it_refuses_a_rank_file_with_one_rank_changed(tmp_path):
    installed_encoding("r50k_base")
    shutil.copy(TOKENIZERS_DIR / "r50k_base.tiktoken", tmp_path / "r50k_base.tiktoken")
    text = (tmp_path / "r50k_base.tiktoken").read_text()
    # swap the ranks of two tokens: still a well-formed file, no longer GPT-2's
    text = text.replace("IQ== 0\n", "IQ== 1\n", 1).replace("Ig== 1\n", "Ig== 0\n", 1)
    (tmp_path / "r50k_base.tiktoken").write_text(text)
    with pytest.raises(ReferenceTokenizerError) as caught:
        load_encoding("r50k_base", tmp_path)
    assert caught.value.code == "corrupt"


def test_a_missing_file_reports_not_installed(tmp_path):
    status = encoding_status("o200k_base", tmp_path)
    assert not status.installed
    assert status.problem == "not_installed"
    assert "make tokenizers" in status.message
    with pytest.raises(ReferenceTokenizerError, match="not installed: run `make tokenizers`"):
        load_encoding("o200k_base", tmp_path)


def test_an_unknown_encoding_is_refused(tmp_path):
    with pytest.raises(ReferenceTokenizerError) as caught:
        load_encoding("gpt5_base", tmp_path)
    assert caught.value.code == "unknown_encoding"


def test_installed_encodings_report_installed():
    for name in ENCODINGS:
        installed_encoding(name)
        assert encoding_status(name, TOKENIZERS_DIR).installed
