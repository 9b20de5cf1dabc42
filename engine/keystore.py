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
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from engine.application import Clock
from engine.grant import KeyGrant
from engine.roles import Role
from projections.timefmt import stamp

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
_COLUMNS = "key_id, role, merchant_id, carrier, signing_secret, created_at, revoked_at"


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


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyStore:
    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = path
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute(_SCHEMA)
        os.chmod(path, 0o600)

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: requests come from uvicorn's thread pool, and
        # a revoke from the CLI must count on the very next request.
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def create(self, grant: KeyGrant) -> IssuedKey:
        key = f"ik_{secrets.token_urlsafe(32)}"
        secret = f"whsec_{secrets.token_urlsafe(32)}" if grant.role is Role.CARRIER else None
        record = ApiKey(
            key_id=f"key_{secrets.token_hex(6)}",
            role=grant.role,
            merchant_id=grant.merchant_id,
            carrier=grant.carrier.value if grant.carrier else None,
            created_at=stamp(self.clock()),
            revoked_at=None,
            signing_secret=secret,
        )
        with closing(self._connect()) as conn:
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
        return IssuedKey(key=key, record=record)

    def authenticate(self, presented: str) -> ApiKey | None:
        """The live key behind what a caller presented, or None."""
        found = self._select("WHERE key_sha256 = ? AND revoked_at IS NULL", (_digest(presented),))
        return found[0] if found else None

    def all(self) -> list[ApiKey]:
        return self._select("ORDER BY created_at, key_id", ())

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoke a key; revoking twice keeps the first time. None when there is no such key."""
        with closing(self._connect()) as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (stamp(self.clock()), key_id),
            )
        found = self._select("WHERE key_id = ?", (key_id,))
        return found[0] if found else None

    def _select(self, clause: str, params: tuple) -> list[ApiKey]:
        with closing(self._connect()) as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM api_keys {clause}", params).fetchall()
        return [
            ApiKey(
                key_id=r[0],
                role=Role(r[1]),
                merchant_id=r[2],
                carrier=r[3],
                signing_secret=r[4],
                created_at=r[5],
                revoked_at=r[6],
            )
            for r in rows
        ]
