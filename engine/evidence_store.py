"""Evidence files, kept by content, for the HTTP API and the CLI alike.

A file's name is its sha256, so one content is kept once.

An upload is staged in `.incoming/` first, then kept durably (renamed into place
and synced) before its event is recorded: an EvidenceAttached whose file is
missing cannot happen. When the command is then refused, a file this upload
put in place is removed again, so a refused upload leaves no file behind.
Files are the owner's only (0600, folders 0700), like keys.db.
"""

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_BYTES = 20 * 1024 * 1024
BODY_LIMIT = MAX_BYTES + 64 * 1024
"""The whole multipart body: the file, its kind and note, and the framing around them."""

STALE_SECONDS = 3600
"""A staged file this old belongs to no upload still running (one that was killed)."""

_CHUNK = 1024 * 1024


class TooLarge(ValueError):
    """A file over the store's limit; nothing of it is kept."""


class NotKept(Exception):
    """The file could not be put in its place: nothing may be recorded for it."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Staged:
    path: Path
    sha256: str
    size: int


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != 0o700:  # made by an earlier version, or by hand
        os.chmod(path, 0o700)


def _sync_dir(path: Path) -> None:
    # A rename is durable once the folder holding it is synced.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EvidenceStore:
    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        # Keeping a file, recording its event and, on a refusal, removing it again
        # happen as one step: otherwise a refused upload could remove the file that
        # an upload of the same content had just recorded.
        self._keeping = threading.Lock()

    @property
    def incoming(self) -> Path:
        return self.root / ".incoming"

    def stage(self, stream: BinaryIO) -> Staged:
        _private_dir(self.root)  # mkdir gives the mode to the last folder only
        _private_dir(self.incoming)
        self.sweep()
        path = self.incoming / uuid.uuid4().hex
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise TooLarge(f"evidence files are limited to {self.max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(path, digest.hexdigest(), size)

    def sweep(self, older_than: float = STALE_SECONDS) -> int:
        """Remove staged files left by uploads that never finished; how many were removed."""
        removed, cutoff = 0, time.time() - older_than
        for staged in self.incoming.glob("*"):
            try:
                if staged.stat().st_mtime < cutoff:
                    staged.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # another server on this home swept it first
        return removed

    def uri(self, sha256: str) -> str:
        """Where the file is kept, relative to the engine's home: what the event records."""
        return f"evidence/{sha256[:2]}/{sha256}"

    def keep(self, staged: Staged) -> Path:
        """Put the staged file in its place, durably; the staged copy is gone either way."""
        final = self.path_of(staged.sha256)
        try:
            _private_dir(final.parent)
            os.replace(staged.path, final)  # same content, same name: replacing is harmless
            _sync_dir(final.parent)
        finally:
            staged.path.unlink(missing_ok=True)
        return final

    @contextmanager
    def kept(self, staged: Staged) -> Iterator[Path]:
        """The file kept for the block's length; removed again if the block raises and
        this upload was what put it there."""
        with self._keeping:
            final = self.path_of(staged.sha256)
            existed = final.exists()
            try:
                self.keep(staged)
            except OSError as error:
                raise NotKept(error) from error
            try:
                yield final
            except BaseException:
                if not existed:
                    final.unlink(missing_ok=True)
                raise

    def discard(self, staged: Staged) -> None:
        staged.path.unlink(missing_ok=True)

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256
