"""Model files on disk: checksums, safe unpacking of uploaded archives, and the private folder.

Model folders live in GLASSBOX["MODELS_DIR"], which is never served. New files are unpacked
into a staging folder beside it and only moved into place once they have passed
validation, so a refused upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from django.conf import settings

from inference.checkpoint import PICKLE_SUFFIXES

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
MAX_ARCHIVE_MEMBERS = 64
STAGING_NAME = ".staging"


class StorageRefused(ValueError):
    """An archive or folder that will not be stored; the message says why."""


def models_dir() -> Path:
    return Path(settings.GLASSBOX["MODELS_DIR"])


def size_limit_bytes() -> int:
    return settings.GLASSBOX["MAX_MODEL_MB"] * 2**20


def check_slug(slug: str) -> str:
    if not SLUG_PATTERN.match(slug or ""):
        raise StorageRefused(
            "The slug must be 1 to 63 lowercase letters, digits or hyphens, "
            "starting with a letter or digit."
        )
    return slug


def bundle_sha256(path: Path) -> str:
    """One checksum for a model folder: every file's relative name and contents, in order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with file.open("rb") as handle:
            for chunk in iter(lambda: handle.read(2**20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def staging_dir() -> Path:
    """A fresh folder on the same disk as MODELS_DIR, so that moving into place is a rename."""
    root = models_dir() / STAGING_NAME
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=root))


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or path.is_absolute():
        raise StorageRefused(f"The archive holds an absolute path ({name}); refused.")
    if ".." in path.parts or "\\" in name:
        raise StorageRefused(f"The archive holds a path that climbs out ({name}); refused.")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise StorageRefused(f"The archive holds a link ({name}); refused.")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise StorageRefused(
            f"The archive holds a pickle file ({path.name}); Glassbox only accepts "
            ".safetensors weights, because unpickling can run arbitrary code."
        )


def unpack_archive(archive, destination: Path) -> Path:
    """Check every member of a zip, then extract it; return the folder holding config.json.

    `archive` is a path or a file object. Nothing is extracted unless every member passes.
    """
    limit = size_limit_bytes()
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise StorageRefused(f"The archive holds {len(members)} entries; too many.")
            for info in members:
                _check_member(info)
            total = sum(info.file_size for info in members)
            if total > limit:
                raise StorageRefused(
                    f"The archive unpacks to {total / 2**20:.0f} MB; the limit is "
                    f"{limit / 2**20:.0f} MB."
                )
            zipped.extractall(destination)
    except zipfile.BadZipFile:
        raise StorageRefused("That file is not a valid .zip archive.") from None
    configs = sorted(destination.rglob("config.json"), key=lambda p: len(p.parts))
    if not configs:
        raise StorageRefused("The archive has no config.json: is it a model folder?")
    return configs[0].parent


def check_folder(path: Path) -> None:
    """The rules for a folder on the server, as for an archive: no links, no pickles, size."""
    if not path.is_dir():
        raise StorageRefused(f"{path} is not a folder.")
    total = 0
    for item in path.rglob("*"):
        if item.is_symlink():
            raise StorageRefused(f"The folder holds a link ({item.name}); refused.")
        if item.suffix.lower() in PICKLE_SUFFIXES:
            raise StorageRefused(
                f"The folder holds a pickle file ({item.name}); only .safetensors is accepted."
            )
        if item.is_file():
            total += item.stat().st_size
    if total > size_limit_bytes():
        raise StorageRefused(
            f"The folder holds {total / 2**20:.0f} MB; the limit is "
            f"{settings.GLASSBOX['MAX_MODEL_MB']} MB."
        )


def move_into_place(source: Path, slug: str) -> Path:
    """Rename a validated folder to MODELS_DIR/slug; refuse if that exists."""
    target = models_dir() / check_slug(slug)
    if target.exists():
        raise StorageRefused(f"A folder for {slug!r} already exists; choose another slug.")
    source.rename(target)
    return target


def remove_folder(path: Path) -> None:
    """Delete a model folder, but only one inside MODELS_DIR."""
    root = models_dir().resolve()
    path = path.resolve()
    if path == root or root not in path.parents:
        raise StorageRefused(f"{path} is not inside the models folder; not deleting it.")
    shutil.rmtree(path, ignore_errors=True)
