"""Personal fields as the projections keep them (docs/privacy.md).

Rows hold the plaintext (their readers are the intercept's merchant and auditors);
the timeline keeps the sealed value as published, or `[erased]` once its key is gone.
Whether a key is there is the only thing read besides the event, and erasure only
ever takes keys away: applying the same events again, in any order, after any
erasure, gives the same rows.
"""

from functools import cache
from typing import Any, Protocol

import orjson

from domain.events import InterceptEvent
from domain.personal import ERASED, Sealed, map_personal, personal_paths


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


@cache
def _personal_fields(cls: type[InterceptEvent]) -> tuple[str, ...]:
    """The event's own fields that hold personal values or ones nested in them."""
    return tuple(dict.fromkeys(path[0] for path in personal_paths(cls)))


def _has_personal(event: InterceptEvent) -> bool:
    return any(getattr(event, name, None) is not None for name in _personal_fields(type(event)))


def opened(event: InterceptEvent, keys: Keys) -> InterceptEvent:
    """The event with each sealed value opened: its plaintext, or `[erased]`."""
    if not _has_personal(event):
        return event

    def open_value(value: Any, _subject: Any) -> Any:
        if isinstance(value, dict):
            text = keys.open(Sealed.model_validate(value))
            return ERASED if text is None else text
        return value

    state = map_personal(event.model_dump(mode="json"), type(event), open_value)
    return type(event).model_validate(state)


def timeline_data(event: InterceptEvent, keys: Keys) -> str:
    """The timeline's copy of the payload: sealed values as published, or `[erased]`."""
    if not _has_personal(event):
        return event.payload_json()

    def keep_if_readable(value: Any, _subject: Any) -> Any:
        if isinstance(value, dict) and not keys.has(str(value.get("key_id"))):
            return ERASED
        return value

    payload = map_personal(event.payload(), type(event), keep_if_readable)
    return orjson.dumps(payload).decode()


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
