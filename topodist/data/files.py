"""Durable, atomic file writes and checksums, shared by every on-disk format."""

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

__all__ = [
    "read_json_manifest", "replace_directory", "sha256_file", "staging_directory", "write_atomically", "write_durably"
]


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk before returning."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it, then rename it onto ``path``.

    A crash leaves the old file or the new one, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~_umask())  # what open() would give, not mkstemp's 0600
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def staging_directory(directory: Path) -> Path:
    """A new empty hidden directory beside ``directory``, to be renamed into place."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))


def replace_directory(staging: Path, directory: Path) -> None:
    """Rename ``staging`` to ``directory``; an old ``directory`` is removed only afterwards.

    A crash leaves either the old directory or the new one at ``directory``,
    never a mixture.
    """
    if directory.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
        retired.rmdir()
        directory.rename(retired)
        staging.rename(directory)
        shutil.rmtree(retired)
    else:
        staging.rename(directory)
    parent = os.open(directory.parent, os.O_RDONLY)
    try:
        os.fsync(parent)
    finally:
        os.close(parent)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json_manifest(directory: Path, file_name: str, format_name: str, format_version: int, fix: str) -> dict:
    """Read ``directory / file_name`` and check its ``format`` and ``format_version``.

    Parameters
    ----------
    directory : Path
    file_name : str
    format_name : str
        Expected ``format`` field, e.g. ``"topodist-complex"``.
    format_version : int
        The version this topodist reads.
    fix : str
        What the user should do about a corrupt or outdated manifest, ended by a period.

    Returns
    -------
    dict
    """
    path = directory / file_name
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a {format_name} directory: {file_name} is missing.")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is corrupt ({error}). {fix}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != format_name:
        raise ValueError(f"{path} is not a {format_name} manifest.")
    if manifest.get("format_version") != format_version:
        raise ValueError(
            f"{path} has format version {manifest.get('format_version')}; this topodist reads "
            f"version {format_version}. {fix}"
        )
    return manifest
