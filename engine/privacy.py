"""Sealing personal fields per data subject, and the subject keys that open them.

Every personal field (domain/personal.py) is sealed with AES-256-GCM under a key of its
data subject before the event is recorded. The subject keys live in a key store of
their own, never in the event store, each wrapped (AES-256-GCM again) by a master key
from the settings. Erasing a subject deletes its keys: its sealed values, which the
event store, the topic and the hash chain keep, can no longer be opened by anyone.

`SubjectKeys` is the interface the engine needs; `DatabaseSubjectKeys` keeps the keys
in a table of their own database (a SQLite file under the home by default). A KMS can
stand behind the same interface later. docs/privacy.md says what this guarantees.
"""

import base64
import hashlib
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.events import InterceptEvent, Requested
from domain.personal import Sealed, buyer_subject, map_personal, personal_paths, recipient_subject
from domain.vocabulary import Subject
from storage.database import Database

_NONCE = 12


class MasterKeyError(ValueError):
    """The master keys in the settings are malformed, or none of them opens a subject key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    secret: bytes

    def __repr__(self) -> str:  # never the secret, in a log or a traceback
        return f"MasterKey({self.key_id})"


def master_key(text: str) -> MasterKey:
    """A master key from its settings text: 32 bytes, base64 (standard or url-safe)."""
    try:
        secret = base64.b64decode(text.strip().replace("-", "+").replace("_", "/") + "==")
    except ValueError:
        raise MasterKeyError("a master key must be 32 bytes in base64") from None
    if len(secret) != 32:
        raise MasterKeyError("a master key must be 32 bytes in base64 (AES-256)")
    return MasterKey(hashlib.sha256(b"intercept master key\n" + secret).hexdigest()[:16], secret)


def new_master_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class MasterKeys:
    """The current master key (wraps new subject keys) and older ones (still unwrap).

    Rotation without downtime: give every process the new key first and the old one
    after it, run `intercept rewrap-keys`, then drop the old key from the settings.
    """

    def __init__(self, keys: Sequence[MasterKey]) -> None:
        if not keys:
            raise MasterKeyError("at least one master key is needed")
        self.current = keys[0]
        self._by_id = {k.key_id: k for k in keys}

    @classmethod
    def parse(cls, text: str) -> "MasterKeys":
        return cls([master_key(part) for part in text.split(",") if part.strip()])

    def wrap(self, key_id: str, subject: str, key: bytes) -> tuple[bytes, str]:
        nonce = os.urandom(_NONCE)
        aad = f"{key_id}\n{subject}".encode()
        return nonce + AESGCM(self.current.secret).encrypt(nonce, key, aad), self.current.key_id

    def unwrap(self, key_id: str, subject: str, wrapped: bytes, master_id: str) -> bytes:
        master = self._by_id.get(master_id)
        if master is None:
            raise MasterKeyError(
                f"subject key {key_id} is wrapped by master key {master_id}, which the "
                "settings do not hold (INTERCEPT_MASTER_KEYS)"
            )
        aad = f"{key_id}\n{subject}".encode()
        try:
            return AESGCM(master.secret).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
        except InvalidTag:
            raise MasterKeyError(
                f"master key {master_id} does not open subject key {key_id}"
            ) from None


class SubjectKeys(Protocol):
    """The subject key store: one live key per data subject."""

    def key_for(self, subject: str) -> tuple[str, bytes]:
        """The subject's live key (its id and its 32 bytes), made when it has none."""
        ...

    def key(self, key_id: str) -> tuple[str, bytes] | None:
        """A key's subject and bytes; None once destroyed (or never made)."""
        ...

    def has(self, key_id: str) -> bool: ...

    def destroy(self, subject: str) -> int:
        """Delete the subject's keys for good; how many there were."""
        ...

    def link(self, subject: str, intercept_id: UUID) -> None:
        """Remember that the intercept holds data of the subject (for erasure by subject)."""
        ...

    def intercepts_of(self, subject: str) -> list[UUID]: ...

    def rewrap(self) -> int:
        """Wrap every key under the current master key; how many were rewrapped."""
        ...

    def close(self) -> None: ...


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS subject_keys (key_id TEXT PRIMARY KEY, "
    "subject TEXT NOT NULL UNIQUE, wrapped TEXT NOT NULL, master_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS subject_intercepts (subject TEXT NOT NULL, "
    "intercept_id TEXT NOT NULL, PRIMARY KEY (subject, intercept_id))",
)


class DatabaseSubjectKeys:
    """Subject keys in a table of their own database, wrapped by the master keys."""

    def __init__(self, db: Database, masters: MasterKeys) -> None:
        self.db = db
        self.masters = masters
        self._linked: set[tuple[str, UUID]] = set()
        self._opened: dict[tuple[str, str], bytes] = {}
        with db.transaction() as cur:
            for statement in _SCHEMA:
                cur.execute(statement)

    def _row(self, column: str, value: str) -> Any:
        rows = self.db.read(
            f"SELECT key_id, subject, wrapped, master_id FROM subject_keys WHERE {column} = ?",
            (value,),
        )
        return rows[0] if rows else None

    def _unwrapped(self, row: Any) -> bytes:
        # Unwrapped once per key and wrapping: the row itself is read every time, so a key
        # destroyed by another process is gone here on the next read too.
        cache_key = (row["key_id"], row["wrapped"])
        key = self._opened.get(cache_key)
        if key is None:
            key = self.masters.unwrap(
                row["key_id"], row["subject"], _unb64(row["wrapped"]), row["master_id"]
            )
            self._opened[cache_key] = key
        return key

    def key_for(self, subject: str) -> tuple[str, bytes]:
        row = self._row("subject", subject)
        if row is None:
            key_id, key = f"k_{secrets.token_hex(16)}", AESGCM.generate_key(bit_length=256)
            wrapped, master_id = self.masters.wrap(key_id, subject, key)
            with self.db.transaction() as cur:
                # Two writers making the first key of one subject: the first one wins.
                cur.execute(
                    "INSERT INTO subject_keys (key_id, subject, wrapped, master_id) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (subject) DO NOTHING",
                    (key_id, subject, _b64(wrapped), master_id),
                )
            row = self._row("subject", subject)
        return row["key_id"], self._unwrapped(row)

    def key(self, key_id: str) -> tuple[str, bytes] | None:
        row = self._row("key_id", key_id)
        return None if row is None else (row["subject"], self._unwrapped(row))

    def has(self, key_id: str) -> bool:
        return bool(self.db.read("SELECT 1 FROM subject_keys WHERE key_id = ?", (key_id,)))

    def destroy(self, subject: str) -> int:
        with self.db.transaction() as cur:
            found = cur.execute(
                "SELECT key_id FROM subject_keys WHERE subject = ?", (subject,)
            ).all()
            cur.execute("DELETE FROM subject_keys WHERE subject = ?", (subject,))
        gone = {r["key_id"] for r in found}
        self._opened = {k: v for k, v in self._opened.items() if k[0] not in gone}
        return len(found)

    def link(self, subject: str, intercept_id: UUID) -> None:
        if (subject, intercept_id) in self._linked:
            return
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO subject_intercepts (subject, intercept_id) VALUES (?, ?) "
                "ON CONFLICT (subject, intercept_id) DO NOTHING",
                (subject, str(intercept_id)),
            )
        self._linked.add((subject, intercept_id))

    def intercepts_of(self, subject: str) -> list[UUID]:
        rows = self.db.read(
            "SELECT intercept_id FROM subject_intercepts WHERE subject = ? ORDER BY intercept_id",
            (subject,),
        )
        return [UUID(r["intercept_id"]) for r in rows]

    def rewrap(self) -> int:
        current = self.masters.current.key_id
        rows = self.db.read(
            "SELECT key_id, subject, wrapped, master_id FROM subject_keys WHERE master_id <> ?",
            (current,),
        )
        for row in rows:
            key = self._unwrapped(row)
            wrapped, master_id = self.masters.wrap(row["key_id"], row["subject"], key)
            with self.db.transaction() as cur:
                # Only if no one rewrapped or destroyed it meanwhile.
                cur.execute(
                    "UPDATE subject_keys SET wrapped = ?, master_id = ? "
                    "WHERE key_id = ? AND wrapped = ?",
                    (_b64(wrapped), master_id, row["key_id"], row["wrapped"]),
                )
        return len(rows)

    def scrub(self) -> None:
        """No destroyed key left in the file or its log (docs/privacy.md)."""
        self.db.scrub(["subject_keys"])

    def close(self) -> None:
        self.db.close()


def open_subject_keys(url: str | None, home: Path, master_keys: str | None) -> DatabaseSubjectKeys:
    """The key store the settings name: `url`, or `subject-keys.db` under the home.

    Without master keys in the settings a development one is made once under the home
    (`master.key`, the owner's only); docs/privacy.md says why production sets its own.
    """
    if url is None:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        db = Database.sqlite_file(home / "subject-keys.db")
    else:
        db = Database(url)
    return DatabaseSubjectKeys(db, MasterKeys.parse(master_keys or _home_master_key(home)))


def _home_master_key(home: Path) -> str:
    path = home / "master.key"
    try:
        return path.read_text()
    except FileNotFoundError:
        pass
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written whole under a name of its own, then linked into place: a process starting
    # beside this one finds no file or the whole key, never an empty one, and a link
    # never replaces a key another process put there first.
    draft = home / f".master.key.{os.getpid()}.{threading.get_ident()}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(new_master_key_text())
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:  # another process made it first: its key is the one
            pass
    finally:
        draft.unlink(missing_ok=True)
    return path.read_text()


class Seals:
    """Seals an event's personal fields before it is recorded; opens them for those
    allowed to read them. The projections' `Keys` too."""

    def __init__(self, keys: SubjectKeys) -> None:
        self.keys = keys

    # ---- sealing (when recording) ----------------------------------------

    def seal_events(
        self, events: Sequence[Any], order_of: Callable[[UUID], str | None]
    ) -> list[Any]:
        """The events with every plain personal value sealed under its subject's key.

        `order_of(intercept_id)` gives an intercept's order id (the buyer's subject) for
        events that do not carry it; a Requested in the same batch is found first.
        """
        orders = {e.originator_id: e.order_id for e in events if isinstance(e, Requested)}
        return [self._seal(e, orders, order_of) for e in events]

    def _seal(self, event: Any, orders: dict, order_of) -> Any:
        if not isinstance(event, InterceptEvent):
            return event
        paths = personal_paths(type(event))
        if all(getattr(event, head) is None for head, *_ in paths):
            return event  # no personal field given (a path under a null holds nothing)
        iid = event.originator_id

        def subject_of(kind: Subject) -> str:
            if kind is Subject.RECIPIENT:
                return recipient_subject(iid)
            order = orders.get(iid) or order_of(iid)
            if order is None:
                raise ValueError(f"no order is known for intercept {iid}")
            return buyer_subject(event.merchant_id, order)

        sealed_any = False

        def seal(value: Any, kind: Subject) -> Any:
            nonlocal sealed_any
            if not isinstance(value, str):
                return value  # already sealed
            sealed_any = True
            return self.seal(value, subject_of(kind), iid).model_dump()

        state = map_personal(event.model_dump(mode="json"), type(event), seal)
        return type(event).model_validate(state) if sealed_any else event

    def seal(self, text: str, subject: str, intercept_id: UUID) -> Sealed:
        key_id, key = self.keys.key_for(subject)
        self.keys.link(subject, intercept_id)
        nonce = os.urandom(_NONCE)
        ciphertext = AESGCM(key).encrypt(nonce, text.encode(), key_id.encode())
        return Sealed(subject=subject, key_id=key_id, ciphertext=_b64(nonce + ciphertext))

    # ---- opening (when reading) --------------------------------------------

    def open(self, sealed: Sealed) -> str | None:
        found = self.keys.key(sealed.key_id)
        if found is None:
            return None
        _, key = found
        raw = _unb64(sealed.ciphertext)
        try:
            return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], sealed.key_id.encode()).decode()
        except InvalidTag:
            return None  # not sealed by this key: as unreadable as an erased one

    def has(self, key_id: str) -> bool:
        return self.keys.has(key_id)

    def open_state(self, cls: type, state: dict[str, Any]) -> dict[str, Any]:
        """An event's stored fields with each sealed value opened (or `[erased]`)."""
        from domain.vocabulary import ERASED

        def open_value(value: Any, _kind: Subject) -> Any:
            if isinstance(value, dict):
                text = self.open(Sealed.model_validate(value))
                return ERASED if text is None else text
            return value

        return map_personal(state, cls, open_value)


def subjects_of_intercepts(rows: Iterable[Any]) -> dict[str, set[UUID]]:
    """The data subjects of projection rows (merchant_id, order_id, intercept_id)."""
    found: dict[str, set[UUID]] = {}
    for row in rows:
        iid = UUID(row["intercept_id"])
        found.setdefault(buyer_subject(row["merchant_id"], row["order_id"]), set()).add(iid)
        found.setdefault(recipient_subject(iid), set()).add(iid)
    return found
