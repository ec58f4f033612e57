"""Write the rank files of OpenAI's encodings into a local folder, once (`make tokenizers`).

tiktoken would download them from OpenAI on first use; we take them instead from the npm
package js-tiktoken, fetched with `npm pack` (no install, no scripts run) into a cache
folder. Its `dist/ranks/NAME.js` holds `export default {...}` whose `bpe_ranks` string is
one line per run of consecutive ranks: `PREFIX START TOKEN TOKEN ...` (base64 tokens, ranks
START, START + 1, ...; the prefix is not needed). Expanded to one `TOKEN RANK` line per
token in rank order, that is exactly tiktoken's file, byte for byte: each result must have
the SHA-256 that tiktoken pins for the encoding, or nothing is written.

Files that are already there and verified are left alone, and npm is not called at all.

    .venv/bin/python scripts/fetch_tokenizers.py --out var/tokenizers [--cache .cache/npm]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inference.reference_tokenizers import (  # noqa: E402
    ENCODINGS,
    ReferenceTokenizerError,
    read_verified_rank_file,
    sha256_of,
)

PACKAGE = "js-tiktoken"
VERSION = "1.0.21"
TARBALL = f"{PACKAGE}-{VERSION}.tgz"
JS_PREFIX = "export default "


class FetchError(RuntimeError):
    """Something the person running `make tokenizers` has to fix."""


def expand_bpe_ranks(bpe_ranks: str) -> str:
    """js-tiktoken's compressed ranks as the text of a tiktoken rank file."""
    ranked: list[tuple[int, str]] = []
    for line_number, line in enumerate(bpe_ranks.split("\n"), start=1):
        if not line:
            continue
        fields = line.split(" ")
        try:
            start = int(fields[1])
        except (IndexError, ValueError):
            raise FetchError(f"bpe_ranks line {line_number} has no start rank") from None
        ranked.extend((start + offset, token) for offset, token in enumerate(fields[2:]))
    ranked.sort()
    return "".join(f"{token} {rank}\n" for rank, token in ranked)


def parse_ranks_module(source: str, name: str) -> str:
    """The `bpe_ranks` string of a dist/ranks/NAME.js file."""
    body = source.strip()
    if not body.startswith(JS_PREFIX):
        raise FetchError(f"{name}.js does not start with {JS_PREFIX!r}")
    try:
        data = json.loads(body[len(JS_PREFIX) :].rstrip(";"))
        return data["bpe_ranks"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise FetchError(f"{name}.js is not a JSON object with 'bpe_ranks': {exc}") from None


def npm_pack(cache: Path) -> Path:
    """The package tarball, fetched into `cache` unless it is there already."""
    tarball = cache / TARBALL
    if tarball.is_file():
        return tarball
    cache.mkdir(parents=True, exist_ok=True)
    command = ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(cache), "--silent"]
    try:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=300)
    except FileNotFoundError:
        raise FetchError("npm is not installed (apt-get install npm)") from None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise FetchError(
            f"`{' '.join(command)}` failed ({exc}); is the registry reachable?"
        ) from None
    if not tarball.is_file():
        raise FetchError(f"npm pack did not produce {tarball}")
    return tarball


def rank_file_text(tarball: Path, name: str) -> str:
    """Read one ranks module straight from the tarball (nothing is extracted to disk)."""
    member = f"package/dist/ranks/{name}.js"
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            handle = archive.extractfile(member)
            if handle is None:
                raise KeyError(member)
            source = handle.read().decode("utf-8")
    except (KeyError, tarfile.TarError, OSError, EOFError) as exc:
        raise FetchError(f"{tarball.name} has no readable {member}: {exc}") from None
    return expand_bpe_ranks(parse_ranks_module(source, name))


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these are public data
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def missing_encodings(out: Path) -> list[str]:
    missing = []
    for name in ENCODINGS:
        try:
            read_verified_rank_file(name, out)
        except ReferenceTokenizerError as exc:
            if exc.code == "corrupt":
                print(f"tokenizers: {name} fails its SHA-256 check; replacing it", file=sys.stderr)
            missing.append(name)
    return missing


def write_encodings(names: list[str], tarball: Path, out: Path) -> None:
    for name in names:
        data = rank_file_text(tarball, name).encode("ascii")
        expected = ENCODINGS[name].sha256
        if sha256_of(data) != expected:
            raise FetchError(
                f"{name} from {tarball.name} has SHA-256 {sha256_of(data)}, "
                f"not tiktoken's {expected}: nothing written"
            )
        write_atomically(out / ENCODINGS[name].file_name, data)
        print(f"tokenizers: wrote {out / ENCODINGS[name].file_name} (SHA-256 verified)")


def fetch(out: Path, cache: Path) -> None:
    names = missing_encodings(out)
    if not names:
        print(f"tokenizers: {', '.join(ENCODINGS)} present and verified in {out}")
        return
    tarball = npm_pack(cache)
    try:
        write_encodings(names, tarball, out)
    except FetchError:
        # A cached tarball that is damaged gets one fresh download before giving up.
        tarball.unlink(missing_ok=True)
        write_encodings(missing_encodings(out), npm_pack(cache), out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for NAME.tiktoken")
    parser.add_argument("--cache", type=Path, default=Path(".cache/npm"), help="npm tarballs")
    args = parser.parse_args(argv)
    try:
        fetch(args.out, args.cache)
    except FetchError as exc:
        print(f"tokenizers: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
