"""The rank files that `make tokenizers` fetches, for the tests that need them.

`make test` fetches them first, so a missing file is a failure with the fix in its
message, never a silent skip.
"""

from __future__ import annotations

import pytest

from inference.reference_tokenizers import (
    ReferenceTokenizerError,
    load_encoding,
    read_verified_rank_file,
)
from inference.tokenizer import Tokenizer
from tests.environment import TOKENIZERS_DIR


def installed_encoding(name: str) -> Tokenizer:
    try:
        read_verified_rank_file(name, TOKENIZERS_DIR)
    except ReferenceTokenizerError as exc:
        pytest.fail(f"{exc} (looked in {TOKENIZERS_DIR}; run `make tokenizers`)", pytrace=False)
    return load_encoding(name, TOKENIZERS_DIR)
