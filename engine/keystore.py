"""API keys in a small SQLite table of their own: stored hashed, never in the clear.

A key is a high-entropy random string, so its sha256 is enough to find it and
no salt or slow hash is needed. A carrier key also carries the secret its
callbacks are signed with; HMAC needs that secret itself, so it is stored as is
and the file is made readable by its owner only.
"""

import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.grant import KeyGrant
from engine.roles import Role
from projections.timefmt import stamp

if TYPE_CHECKING:
    from engine.application import Clock

_SCHEMA = """CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    merchant_id TEXT,
    carrier TEXT,
    signing_secret TEXT,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)"""
_SEEN_SCHEMA = """CREATE TABLE IF NOT EXISTS seen_signatures (
    signature TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
)"""
_COLUMNS = "key_id, role, merchant_id, carrier, signing_secret, created_at, revoked_at"


class KeyStoreUnavailable(RuntimeError):
    """keys.db cannot be written (a read-only home, a full disk) or opened at all."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key as the engine knows it: what it may do, never the key itself."""

    key_id: str
    role: Role
    merchant_id: str | None
    carrier: str | None
    created_at: str
    revoked_at: str | None
    signing_secret: str | None = field(default=None, repr=False)

    @property
    def actor(self) -> str:
        """Who the events this key causes are recorded as."""
        return self.key_id


@dataclass(frozen=True)
class IssuedKey:
    """A new key: `key` (and a carrier's signing secret) are shown once, then only hashed."""

    key: str
    record: ApiKey


_KNOWN_MAX = 10_000


def _record(r: tuple) -> ApiKey:
    return ApiKey(
        key_id=r[0],
        role=Role(r[1]),
        merchant_id=r[2],
        carrier=r[3],
        signing_secret=r[4],
        created_at=r[5],
        revoked_at=r[6],
    )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path, clock: "Clock") -> None:
        self.path = path
        self.clock = clock
        # One connection, opened once: requests come from uvicorn's thread pool, so
        # it is shared under a lock. Each statement is its own transaction and reads
        # the latest commit, so a revoke from the CLI counts on the very next request.
        self._lock = threading.Lock()
        # Keys already looked up, by digest (None: not a live key). Emptied whenever
        # keys.db changed: `PRAGMA data_version` moves with every commit another
        # connection makes (the CLI's, another server's), and this connection's own
        # writes empty it directly.
        self._known: dict[str, ApiKey | None] = {}
        self._version: int | None = None
        # A home that cannot be a folder is the home's fault, not the key store's: the
        # OSError names it, as every other command says of such a home.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                path, timeout=10, isolation_level=None, check_same_thread=False
            )
            if not self._has_tables():
                # WAL is a property of the file, set once when it is made: setting it
                # on every open needs write access, which a read-only home lacks.
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(_SCHEMA)
                self._conn.execute(_SEEN_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise KeyStoreUnavailable(f"cannot open {path}: {error}") from error
        if os.stat(path).st_mode & 0o777 != 0o600:
            try:
                os.chmod(path, 0o600)
            except OSError as error:
                raise KeyStoreUnavailable(f"cannot make {path} private: {error}") from error

    def _has_tables(self) -> bool:
        names = {
            row[0]
            for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        return {"api_keys", "seen_signatures"} <= names

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._conn
            except sqlite3.OperationalError as error:
                if "readonly" in str(error) or "disk" in str(error):
                    raise KeyStoreUnavailable(f"cannot write {self.path}: {error}") from error
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def create(self, grant: KeyGrant) -> IssuedKey:
        key = f"ik_{secrets.token_urlsafe(32)}"
        secret = f"whsec_{secrets.token_urlsafe(32)}" if grant.role is Role.CARRIER else None
        record = ApiKey(
            key_id=f"key_{secrets.token_hex(6)}",
            role=grant.role,
            merchant_id=grant.merchant_id,
            carrier=grant.carrier,
            created_at=stamp(self.clock()),
            revoked_at=None,
            signing_secret=secret,
        )
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO api_keys (key_sha256, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _digest(key),
                    record.key_id,
                    record.role.value,
                    record.merchant_id,
                    record.carrier,
                    record.signing_secret,
                    record.created_at,
                    None,
                ),
            )
            self._changed()
        return IssuedKey(key=key, record=record)

    def authenticate(self, presented: str) -> ApiKey | None:
        """The live key behind what a caller presented, or None.

        Read from keys.db once per key until keys.db changes: one `PRAGMA data_version`
        per call otherwise. The version is read before the key, so a revoke committed
        after it shows in the next call's version and empties what was remembered.
        """
        digest = _digest(presented)
        with self._connect() as conn:
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._known.clear()
                self._version = version
            if digest in self._known:
                return self._known[digest]
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL",
                (digest,),
            ).fetchall()
            found = _record(rows[0]) if rows else None
            if len(self._known) >= _KNOWN_MAX:  # unknown keys are remembered too: bound them
                self._known.clear()
            self._known[digest] = found
            return found

    def live(self, key_id: str) -> ApiKey | None:
        """The key with this id unless it has been revoked: what a web session rests on."""
        found = self._select("WHERE key_id = ? AND revoked_at IS NULL", (key_id,))
        return found[0] if found else None

    def all(self) -> list[ApiKey]:
        return self._select("ORDER BY created_at, key_id", ())

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke a key; revoking twice keeps the first time. None when there is no such key."""
        with self._connect() as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (stamp(self.clock()), key_id),
            )
            self._changed()
        found = self._select("WHERE key_id = ?", (key_id,))
        return found[0] if found else None

    def _select(self, clause: str, params: tuple) -> list[ApiKey]:
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys {clause}", params).fetchall()
        return [_record(r) for r in rows]

    def _changed(self) -> None:
        """This connection wrote api_keys: its own commits do not move data_version."""
        self._known.clear()

    def first_sight(self, signature: str, now: float, keep_seconds: float) -> bool:
        """Remember a callback's signature; False when it was seen within `keep_seconds`.

        Kept in keys.db, so a restart does not reopen the window to replays.
        """
        with self._connect() as conn:
            conn.execute("DELETE FROM seen_signatures WHERE seen_at < ?", (now - keep_seconds,))
            inserted = conn.execute(
                "INSERT OR IGNORE INTO seen_signatures (signature, seen_at) VALUES (?, ?)",
                (signature, now),
            )
            return inserted.rowcount == 1

    def forget_sight(self, signature: str) -> None:
        """The callback failed before it was recorded: its sender may send it again."""
        with self._connect() as conn:
            conn.execute("DELETE FROM seen_signatures WHERE signature = ?", (signature,))
