"""Text <-> token ids, always through tiktoken, and an honest view of each token.

Three sources make a Tokenizer:
  * a rank file in tiktoken's format (one "base64(token bytes) rank" per line), which is
    what our bundles ship;
  * a Hugging Face GPT-2 tokenizer given as vocab.json + merges.txt, whose ids are kept
    exactly (including special tokens such as <|endoftext|>);
  * a named tiktoken encoding ("gpt2", "cl100k_base"), when tiktoken can load it.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import tiktoken

# GPT-2's pre-tokenization: contractions, words with their leading space, numbers,
# punctuation runs and whitespace are split apart before any merge is applied.
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
END_OF_TEXT = "<|endoftext|>"


class TokenizerError(ValueError):
    """A tokenizer file that is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class TokenInfo:
    """One token as a student should see it."""

    id: int
    bytes: bytes
    text: str  # the bytes as text; bytes that are not valid UTF-8 alone appear as \xNN
    partial: bool  # True when the token is only part of a UTF-8 character

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "bytes": list(self.bytes),
            "text": self.text,
            "partial": self.partial,
        }


def display_text(token_bytes: bytes) -> tuple[str, bool]:
    """Text for a token's bytes, and whether they were an incomplete UTF-8 sequence."""
    try:
        return token_bytes.decode("utf-8"), False
    except UnicodeDecodeError:
        return token_bytes.decode("utf-8", errors="backslashreplace"), True


def read_rank_file(path: str | Path) -> dict[bytes, int]:
    """Read a tiktoken rank file.

    We parse it ourselves rather than call tiktoken.load.load_tiktoken_bpe, which caches
    files by their path in a temp folder and would serve a stale copy after a bundle
    is replaced in place.
    """
    try:
        text = Path(path).read_text(encoding="ascii")
    except FileNotFoundError:
        raise TokenizerError(f"tokenizer rank file not found: {path}") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise TokenizerError(f"cannot read tokenizer rank file {path}: {exc}") from None
    return parse_rank_text(text, Path(path).name)


def parse_rank_text(text: str, source: str) -> dict[bytes, int]:
    """Ranks from the text of a rank file; `source` names the file in error messages."""
    ranks: dict[bytes, int] = {}
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            token_b64, rank_text = line.split()
            token = base64.b64decode(token_b64, validate=True)
            rank = int(rank_text)
        except ValueError:
            raise TokenizerError(
                f"{source} line {line_number} is not 'base64-token rank'"
            ) from None
        if token in ranks:
            raise TokenizerError(f"{source} line {line_number} repeats a token")
        ranks[token] = rank
    if not ranks:
        raise TokenizerError(f"tokenizer rank file {source} is empty")
    return ranks


def write_rank_file(ranks: dict[bytes, int], path: str | Path) -> None:
    lines = [
        f"{base64.b64encode(token).decode('ascii')} {rank}\n"
        for token, rank in sorted(ranks.items(), key=lambda item: item[1])
    ]
    Path(path).write_text("".join(lines), encoding="ascii")


def byte_to_unicode_map() -> dict[int, str]:
    """GPT-2's reversible mapping of the 256 byte values onto printable characters.

    Hugging Face vocab.json and merges.txt spell tokens with these characters: bytes
    that are printable (and not a space) stand for themselves, the rest are shifted
    to code points from 256 upwards, in byte order.
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + shifted)
            shifted += 1
    return mapping


class Tokenizer:
    """A tiktoken Encoding plus, for Hugging Face vocabularies, a map between id spaces."""

    def __init__(
        self,
        encoding: tiktoken.Encoding,
        kind: str,
        rank_to_id: dict[int, int] | None = None,
    ):
        self.encoding = encoding
        self.kind = kind  # "rank_file", "huggingface" or "tiktoken"
        self._rank_to_id = rank_to_id
        self._id_to_rank = {i: r for r, i in rank_to_id.items()} if rank_to_id else None
        specials = encoding._special_tokens
        self.special_tokens: dict[str, int] = {
            text: self._to_id(rank) for text, rank in specials.items()
        }
        self.eot_id: int | None = self.special_tokens.get(END_OF_TEXT)

    # -- id spaces --------------------------------------------------------------------
    def _to_id(self, rank: int) -> int:
        return self._rank_to_id[rank] if self._rank_to_id else rank

    def _to_rank(self, token_id: int) -> int:
        if self._id_to_rank is None:
            return token_id
        try:
            return self._id_to_rank[token_id]
        except KeyError:
            raise TokenizerError(f"token id {token_id} is not in the vocabulary") from None

    def id_for_rank(self, rank: int) -> int:
        """The id of the token that tiktoken ranks `rank` (the same number, except for
        Hugging Face vocabularies that number their tokens differently)."""
        return self._to_id(rank)

    @property
    def n_vocab(self) -> int:
        """One more than the largest id: the smallest model vocabulary that fits."""
        if self._rank_to_id:
            return max(self._rank_to_id.values()) + 1
        return self.encoding.max_token_value + 1

    def known_ids(self) -> list[int]:
        """Every id this tokenizer can decode (a model's vocabulary may be padded beyond it)."""
        ranks = list(self.encoding._mergeable_ranks.values()) + list(
            self.encoding._special_tokens.values()
        )
        return sorted(self._to_id(rank) for rank in ranks)

    # -- the public API ---------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        # Special tokens typed in the text are encoded as special tokens, as Hugging
        # Face tokenizers do, so that ids agree with theirs.
        ranks = self.encoding.encode(text, allowed_special="all")
        if self._rank_to_id is None:
            return ranks
        return [self._rank_to_id[r] for r in ranks]

    def decode(self, ids: list[int]) -> str:
        """Text for ids; bytes that do not form UTF-8 become U+FFFD, never an exception."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    def decode_bytes(self, ids: list[int]) -> bytes:
        return b"".join(self.token_bytes(i) for i in ids)

    def token_bytes(self, token_id: int) -> bytes:
        try:
            return self.encoding.decode_single_token_bytes(self._to_rank(token_id))
        except KeyError:
            raise TokenizerError(f"token id {token_id} is not in the vocabulary") from None

    def describe(self, ids: list[int]) -> list[TokenInfo]:
        infos = []
        for token_id in ids:
            raw = self.token_bytes(token_id)
            text, partial = display_text(raw)
            infos.append(TokenInfo(id=token_id, bytes=raw, text=text, partial=partial))
        return infos

    def __repr__(self) -> str:
        return f"Tokenizer(kind={self.kind!r}, name={self.encoding.name!r}, n_vocab={self.n_vocab})"

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def from_ranks(
        cls,
        ranks: dict[bytes, int],
        special_tokens: dict[str, int] | None = None,
        pattern: str = GPT2_PATTERN,
        name: str = "glassbox",
    ) -> Tokenizer:
        special_tokens = dict(special_tokens or {})
        missing = [b for b in range(256) if bytes([b]) not in ranks]
        if missing:
            raise TokenizerError(
                f"a byte-level vocabulary needs all 256 single bytes; {len(missing)} are missing"
            )
        clashes = set(special_tokens.values()) & set(ranks.values())
        if clashes:
            raise TokenizerError(f"special token ids clash with ordinary tokens: {sorted(clashes)}")
        encoding = tiktoken.Encoding(
            name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special_tokens
        )
        return cls(encoding, kind="rank_file")

    @classmethod
    def from_rank_file(
        cls,
        path: str | Path,
        special_tokens: dict[str, int] | None = None,
        pattern: str = GPT2_PATTERN,
        name: str = "glassbox",
    ) -> Tokenizer:
        return cls.from_ranks(read_rank_file(path), special_tokens, pattern, name)

    @classmethod
    def from_huggingface(cls, vocab_path: str | Path, merges_path: str | Path) -> Tokenizer:
        """Load a GPT-2-style byte-level BPE from vocab.json + merges.txt.

        tiktoken ranks a merge by the rank of the token it produces, so we give each
        merge's result the merge's position as its rank, and keep a table from those
        ranks to the Hugging Face ids. For GPT-2 itself the table is the identity.
        """
        vocab = _read_hf_vocab(vocab_path)
        byte_to_char = byte_to_unicode_map()
        char_to_byte = {c: b for b, c in byte_to_char.items()}

        def to_bytes(token: str, where: str) -> bytes:
            try:
                return bytes(char_to_byte[c] for c in token)
            except KeyError:
                raise TokenizerError(f"{where}: {token!r} is not a byte-level BPE token") from None

        # The single bytes come first, in the order of their characters (printable
        # first), which is GPT-2's own order; their ranks never decide a merge.
        ranks: dict[bytes, int] = {}
        rank_to_id: dict[int, int] = {}
        ordinary_tokens: set[str] = set()
        for b in sorted(range(256), key=lambda b: ord(byte_to_char[b])):
            char = byte_to_char[b]
            if char not in vocab:
                raise TokenizerError(f"vocab.json lacks the single byte {bytes([b])!r}")
            rank = len(ranks)
            ranks[bytes([b])] = rank
            rank_to_id[rank] = vocab[char]
            ordinary_tokens.add(char)

        for line_number, first, second in _read_hf_merges(merges_path):
            merged = first + second
            if merged not in vocab:
                raise TokenizerError(
                    f"merges.txt line {line_number} makes {merged!r}, which vocab.json lacks"
                )
            merged_bytes = to_bytes(merged, f"merges.txt line {line_number}")
            if merged_bytes in ranks:
                continue  # a second route to a token it already has: the first merge wins
            rank = len(ranks)
            ranks[merged_bytes] = rank
            rank_to_id[rank] = vocab[merged]
            ordinary_tokens.add(merged)

        # Anything in vocab.json that no merge makes is a special token (<|endoftext|>).
        special_tokens: dict[str, int] = {}
        for text, token_id in sorted(vocab.items(), key=lambda item: item[1]):
            if text in ordinary_tokens:
                continue
            rank = len(ranks) + len(special_tokens)
            special_tokens[text] = rank
            rank_to_id[rank] = token_id
        if len(set(rank_to_id.values())) != len(rank_to_id):
            raise TokenizerError("vocab.json gives the same id to two tokens")

        encoding = tiktoken.Encoding(
            name=f"hf:{Path(vocab_path).parent.name}",
            pat_str=GPT2_PATTERN,
            mergeable_ranks=ranks,
            special_tokens=special_tokens,
        )
        identity = all(rank == token_id for rank, token_id in rank_to_id.items())
        return cls(encoding, kind="huggingface", rank_to_id=None if identity else rank_to_id)

    @classmethod
    def from_tiktoken_name(cls, name: str) -> Tokenizer:
        """A named tiktoken encoding; these download their ranks on first use."""
        try:
            encoding = tiktoken.get_encoding(name)
        except ValueError as exc:
            raise TokenizerError(f"unknown tiktoken encoding {name!r}: {exc}") from None
        except Exception as exc:  # network errors come in many types; all mean "not here"
            raise TokenizerError(
                f"tiktoken encoding {name!r} is not available on this machine "
                f"(it must be downloaded once): {exc}"
            ) from None
        return cls(encoding, kind="tiktoken")


def _read_hf_vocab(path: str | Path) -> dict[str, int]:
    try:
        vocab = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TokenizerError(f"vocab.json not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TokenizerError(f"vocab.json is not valid JSON: {exc}") from None
    if not isinstance(vocab, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in vocab.items()
    ):
        raise TokenizerError("vocab.json must map token strings to non-negative integer ids")
    return vocab


def _read_hf_merges(path: str | Path) -> list[tuple[int, str, str]]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise TokenizerError(f"merges.txt not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise TokenizerError(f"merges.txt is not UTF-8 text: {exc}") from None
    merges = []
    for line_number, line in enumerate(lines, start=1):
        if not line or line.startswith("#version"):
            continue
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise TokenizerError(f"merges.txt line {line_number} is not two tokens: {line!r}")
        merges.append((line_number, parts[0], parts[1]))
    return merges
