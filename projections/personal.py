"""Personal fields as the projections keep them (docs/privacy.md): the key store they ask,
and the timeline's stored payloads erased or revealed.

Rows hold the plaintext (their readers are the intercept's merchant and auditors);
the timeline keeps the sealed value as published, or `[erased]` once its key is gone.
Whether a key is there is the only thing read besides the event, and erasure only
ever takes keys away: applying the same events again, in any order, after any
erasure, gives the same rows. How an event's own fields are opened as it is applied is
projections/personal_events.py: the readers here work on stored JSON, so a query that
shows no sealed value builds no event model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import orjson

from domain.vocabulary import ERASED

if TYPE_CHECKING:
    from domain.personal import Sealed


class Keys(Protocol):
    """What the projections need of the subject key store."""

    def open(self, sealed: Sealed) -> str | None:
        """The plaintext, or None when the key that sealed it is destroyed."""
        ...

    def has(self, key_id: str) -> bool:
        """Whether the key still exists (its sealed values can be read)."""
        ...


class NoKeys:
    """No key store: every sealed value reads as erased; plain text stays as it is."""

    def open(self, sealed: Sealed) -> str | None:
        return None

    def has(self, key_id: str) -> bool:
        return False


NO_KEYS = NoKeys()


def erased_data(data: str, subject: str) -> str | None:
    """A timeline payload with `subject`'s sealed values made `[erased]`; None if it has none."""
    if subject not in data:
        return None
    changed = False

    def walk(value: Any) -> Any:
        nonlocal changed
        if isinstance(value, dict):
            if value.get("subject") == subject and "ciphertext" in value:
                changed = True
                return ERASED
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    result = walk(orjson.loads(data))
    return orjson.dumps(result).decode() if changed else None


def revealed_data(data: str, keys: Keys) -> str:
    """A timeline payload for a reader allowed the plaintext: sealed values opened."""
    if "ciphertext" not in data:
        return data
    # Only here, where a sealed value is met, is its model needed (pydantic, at start-up).
    from domain.personal import Sealed

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if "ciphertext" in value and "key_id" in value:
                text = keys.open(Sealed.model_validate(value))
                return ERASED if text is None else text
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return orjson.dumps(walk(orjson.loads(data))).decode()
