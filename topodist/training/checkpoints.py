"""Checkpoint files that are written atomically, carry their sha256, and load without executing code.

:class:`VerifiedCheckpointIO` is the checkpoint plugin of every ``topodist``
trainer (the CLI adds it). Each checkpoint ``X.ckpt`` is written to a
temporary file beside it, flushed and renamed into place, so a crash or a kill
leaves the previous file or the new one, never a torn one. ``X.ckpt.sha256``
beside it lists the digests a reader accepts: the new file's and, while the
rename is pending, the old file's. Loading checks the digest (a truncated or
modified checkpoint is refused, naming the file) and uses
``torch.load(weights_only=True)``: a checkpoint cannot run code when loaded.
"""

import hashlib
import io
import json
import os
import warnings
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from topodist.data.files import sha256_file, write_atomically

__all__ = ["CorruptCheckpointError", "VerifiedCheckpointIO", "checksum_path"]


class CorruptCheckpointError(RuntimeError):
    """A checkpoint's bytes do not match the digest recorded when it was written."""


def checksum_path(path: str | os.PathLike) -> Path:
    """Where the digests of checkpoint ``path`` are kept: ``path`` + ``.sha256``."""
    return Path(f"{os.fspath(path)}.sha256")


def _accepted(path: Path) -> list[str]:
    try:
        record = json.loads(checksum_path(path).read_text())
        return list(record["sha256"])
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptCheckpointError(f"{checksum_path(path)} is not a checksum record: {error}.") from error


def _current_digest(path: Path) -> str:
    """The digest of the file at ``path``: its record's when the record names one file (a finished write),
    without re-reading a large checkpoint; hashed otherwise (no record, a garbled one, or an unfinished write)."""
    try:
        recorded = _accepted(path)
    except CorruptCheckpointError:
        recorded = []
    return recorded[0] if len(recorded) == 1 else sha256_file(path)


def _record(path: Path, digests: list[str]) -> None:
    write_atomically(checksum_path(path), (json.dumps({"sha256": digests}) + "\n").encode())


class VerifiedCheckpointIO(TorchCheckpointIO):
    """Lightning's torch checkpoint IO, with atomic writes, sha256 records and ``weights_only`` loading.

    Parameters
    ----------
    require_checksum : bool, default=False
        Refuse checkpoints without a ``.sha256`` record (written elsewhere);
        by default they load with a warning.
    """

    def __init__(self, require_checksum: bool = False) -> None:
        super().__init__()
        self.require_checksum = require_checksum

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        """Write ``checkpoint`` to ``path`` atomically and record its digest.

        Parameters
        ----------
        checkpoint : dict
            What Lightning dumps.
        path : str or os.PathLike
        storage_options : None
            Not supported (as in ``TorchCheckpointIO``).
        """
        if storage_options is not None:
            raise TypeError(f"VerifiedCheckpointIO does not take storage_options, got {storage_options!r}.")
        path = Path(path)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        old = _current_digest(path) if path.is_file() else None
        # first record both digests, so the file verifies whether or not the rename below happens
        _record(path, [digest] + ([old] if old and old != digest else []))
        write_atomically(path, data)
        _record(path, [digest])

    def load_checkpoint(self, path, map_location=None, weights_only: bool | None = None) -> dict:
        """Verify ``path`` against its record, then load it with ``weights_only=True``.

        Parameters
        ----------
        path : str or os.PathLike
        map_location : optional
            As for ``torch.load``.
        weights_only : bool, optional
            ``False`` is refused: topodist's checkpoints hold tensors and plain
            values only, and loading anything else could run code.

        Returns
        -------
        dict
        """
        if weights_only is False:
            raise ValueError(
                "topodist loads checkpoints with weights_only=True only; a checkpoint that needs "
                "weights_only=False can run code when loaded. Load it with torch.load yourself if you trust it."
            )
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Checkpoint file not found: {path}")
        accepted = _accepted(path)
        if not accepted:
            if self.require_checksum:
                raise CorruptCheckpointError(
                    f"{path} has no {checksum_path(path).name}: its integrity cannot be checked."
                )
            warnings.warn(
                f"{path} has no {checksum_path(path).name} record (not written by topodist): loading it unverified.",
                stacklevel=2,
            )
        else:
            actual = sha256_file(path)
            if actual not in accepted:
                raise CorruptCheckpointError(
                    f"checkpoint {path} is truncated or modified: its sha256 {actual[:16]}... is not the "
                    f"{accepted[0][:16]}... recorded when it was written. Resume from another checkpoint."
                )
        try:
            return torch.load(path, map_location=map_location, weights_only=True)
        except Exception as error:
            raise CorruptCheckpointError(
                f"checkpoint {path} cannot be loaded with weights_only=True: {error}"
            ) from error

    def remove_checkpoint(self, path) -> None:
        """Remove the checkpoint and its record."""
        super().remove_checkpoint(path)
        checksum_path(path).unlink(missing_ok=True)
