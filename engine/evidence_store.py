"""Evidence files, kept by content (for the HTTP API and the CLI alike): a file's name is its sha256, so one content is kept once.

An upload is staged first and kept only once its command is recorded, so a
refused upload leaves no file behind.
"""

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_BYTES = 20 * 1024 * 1024
_CHUNK = 1024 * 1024


class TooLarge(ValueError):
    """A file over the store's limit; nothing of it is kept."""


@dataclass(frozen=True)
class Staged:
    path: Path
    sha256: str
    size: int


class EvidenceStore:
    def __init__(self, root: Path, max_bytes: int = MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def stage(self, stream: BinaryIO) -> Staged:
        incoming = self.root / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        path = incoming / uuid.uuid4().hex
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("wb") as out:
                while chunk := stream.read(_CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise TooLarge(f"evidence files are limited to {self.max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return Staged(path, digest.hexdigest(), size)

    def uri(self, sha256: str) -> str:
        """Where the file is kept, relative to the engine's home: what the event records."""
        return f"evidence/{sha256[:2]}/{sha256}"

    def keep(self, staged: Staged) -> Path:
        final = self.path_of(staged.sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged.path, final)  # same content, same name: replacing is harmless
        return final

    def discard(self, staged: Staged) -> None:
        staged.path.unlink(missing_ok=True)

    def path_of(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256
