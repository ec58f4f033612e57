"""The tokenizers of OpenAI's models (GPT-2, GPT-4, GPT-4o...), loaded from local files only.

tiktoken's named encodings (`tiktoken.get_encoding("cl100k_base")`) download their rank
files on first use, which fails on a machine without network. `make tokenizers`
(scripts/fetch_tokenizers.py) writes the same files once into a local folder; this module
lists the encodings, loads one from that folder, and refuses any file whose SHA-256 is not
the one tiktoken itself pins for it, so a truncated or altered file is never used.

    load_encoding("cl100k_base", folder).encode("hello world")   # [15339, 1917]
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tiktoken_ext import openai_public

from .tokenizer import Tokenizer, TokenizerError, parse_rank_text

# The pre-tokenization patterns and special tokens are tiktoken's (tiktoken_ext/
# openai_public.py, tiktoken 0.14.0). GPT-2's pattern and the special tokens' texts are
# module constants there and are taken from it; the cl100k and o200k patterns and the
# special tokens' ids only exist inside the functions that download the ranks, so they
# are written out here (tests/inference/test_reference_tokenizers.py checks that the
# installed tiktoken still spells them the same way).
R50K_PATTERN = openai_public.r50k_pat_str
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN_PARTS = (
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""",
    r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
    r"""\s*[\r\n]+""",
    r"""\s+(?!\S)""",
    r"""\s+""",
)
O200K_PATTERN = "|".join(O200K_PATTERN_PARTS)

ENDOFTEXT = openai_public.ENDOFTEXT
FIM_PREFIX = openai_public.FIM_PREFIX
FIM_MIDDLE = openai_public.FIM_MIDDLE
FIM_SUFFIX = openai_public.FIM_SUFFIX
ENDOFPROMPT = openai_public.ENDOFPROMPT


@dataclass(frozen=True, eq=False)
class ReferenceEncoding:
    """One published encoding: what it is called, who used it, and how to check its file."""

    name: str  # tiktoken's name, also the file's: NAME.tiktoken
    label: str  # what a student calls it
    family: str  # which models used it (tiktoken/model.py's table)
    sha256: str  # of the rank file: the expected_hash tiktoken pins in openai_public.py
    pattern: str
    special_tokens: dict[str, int] = field(default_factory=dict)
    n_vocab: int = 0  # largest id + 1, specials included

    @property
    def file_name(self) -> str:
        return f"{self.name}.tiktoken"


ENCODINGS: dict[str, ReferenceEncoding] = {
    encoding.name: encoding
    for encoding in (
        ReferenceEncoding(
            name="r50k_base",
            label="GPT-2",
            family="GPT-2 and the first GPT-3 models (davinci, curie, babbage, ada)",
            sha256="306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
            pattern=R50K_PATTERN,
            special_tokens={ENDOFTEXT: 50256},
            n_vocab=50257,
        ),
        ReferenceEncoding(
            name="p50k_base",
            label="Codex",
            family="Codex and text-davinci-002/003",
            sha256="94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
            pattern=R50K_PATTERN,
            special_tokens={ENDOFTEXT: 50256},
            n_vocab=50281,
        ),
        ReferenceEncoding(
            name="cl100k_base",
            label="GPT-4",
            family="GPT-3.5-turbo, GPT-4 and OpenAI's text-embedding models",
            sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
            pattern=CL100K_PATTERN,
            special_tokens={
                ENDOFTEXT: 100257,
                FIM_PREFIX: 100258,
                FIM_MIDDLE: 100259,
                FIM_SUFFIX: 100260,
                ENDOFPROMPT: 100276,
            },
            n_vocab=100277,
        ),
        ReferenceEncoding(
            name="o200k_base",
            label="GPT-4o",
            family="GPT-4o, GPT-4.1, GPT-5 and the o-series reasoning models",
            sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
            pattern=O200K_PATTERN,
            special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
            n_vocab=200019,
        ),
    )
}

INSTALL_HINT = "run `make tokenizers`"


class ReferenceTokenizerError(TokenizerError):
    """An encoding that cannot be used: unknown, not installed, or a file that fails its check."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code  # "unknown_encoding", "not_installed" or "corrupt"


@dataclass(frozen=True)
class EncodingStatus:
    """Whether an encoding can be loaded from a folder, and if not, why."""

    encoding: ReferenceEncoding
    installed: bool
    problem: str = ""  # "" when installed, else the error code
    message: str = ""


def reference_encoding(name: str) -> ReferenceEncoding:
    try:
        return ENCODINGS[name]
    except (KeyError, TypeError):
        known = ", ".join(ENCODINGS)
        raise ReferenceTokenizerError(
            "unknown_encoding", f"unknown encoding {name!r}; known: {known}"
        ) from None


def rank_file_path(name: str, directory: str | Path) -> Path:
    return Path(directory) / reference_encoding(name).file_name


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_verified_rank_file(name: str, directory: str | Path) -> bytes:
    """The bytes of NAME.tiktoken in `directory`, only if their SHA-256 is tiktoken's."""
    encoding = reference_encoding(name)
    path = Path(directory) / encoding.file_name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReferenceTokenizerError(
            "not_installed", f"{encoding.name} ({encoding.label}) is not installed: {INSTALL_HINT}"
        ) from None
    except OSError as exc:
        raise ReferenceTokenizerError(
            "not_installed", f"cannot read {path}: {exc}; {INSTALL_HINT}"
        ) from None
    actual = sha256_of(data)
    if actual != encoding.sha256:
        # Refused, never loaded: a truncated download would tokenize "almost" right.
        raise ReferenceTokenizerError(
            "corrupt",
            f"{path.name} fails its check (SHA-256 {actual[:12]}..., expected "
            f"{encoding.sha256[:12]}...): delete it and {INSTALL_HINT}",
        )
    return data


# Loaded encodings by (name, folder); files already verified by (path, size, mtime).
_lock = threading.Lock()
_loaded: dict[tuple[str, str], Tokenizer] = {}
_verified: dict[str, tuple[int, int]] = {}


def load_encoding(name: str, directory: str | Path) -> Tokenizer:
    """The encoding `name` from its rank file in `directory`, verified, loaded once."""
    encoding = reference_encoding(name)
    key = (encoding.name, str(Path(directory).resolve()))
    with _lock:
        if key in _loaded:
            return _loaded[key]
        # Loading happens under the lock: two threads asking at once load it once.
        data = read_verified_rank_file(encoding.name, directory)
        ranks = parse_rank_text(data.decode("ascii"), encoding.file_name)
        tokenizer = Tokenizer.from_ranks(
            ranks, encoding.special_tokens, pattern=encoding.pattern, name=encoding.name
        )
        _loaded[key] = tokenizer
        return tokenizer


def encoding_status(name: str, directory: str | Path) -> EncodingStatus:
    """Installed or not, without loading the ranks (a verified file is hashed once)."""
    encoding = reference_encoding(name)
    path = Path(directory) / encoding.file_name
    with _lock:
        if (encoding.name, str(Path(directory).resolve())) in _loaded:
            return EncodingStatus(encoding, installed=True)
    try:
        stat = path.stat()
        signature = (stat.st_size, stat.st_mtime_ns)
        if _verified.get(str(path)) != signature:
            read_verified_rank_file(encoding.name, directory)
            _verified[str(path)] = signature
    except FileNotFoundError:
        return EncodingStatus(
            encoding,
            installed=False,
            problem="not_installed",
            message=f"{encoding.name} ({encoding.label}) is not installed: {INSTALL_HINT}",
        )
    except ReferenceTokenizerError as exc:
        return EncodingStatus(encoding, installed=False, problem=exc.code, message=str(exc))
    return EncodingStatus(encoding, installed=True)


def all_statuses(directory: str | Path) -> list[EncodingStatus]:
    return [encoding_status(name, directory) for name in ENCODINGS]


def clear_cache() -> None:
    with _lock:
        _loaded.clear()
        _verified.clear()
