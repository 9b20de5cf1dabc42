"""An event's personal fields as the projections apply it (docs/privacy.md): opened for
the rows, kept sealed (or `[erased]`) for the timeline. The key store they ask is
projections/personal.py's `Keys`."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import orjson

from domain.personal import Sealed, map_personal, personal_paths
from domain.vocabulary import ERASED

if TYPE_CHECKING:
    from domain.events import InterceptEvent
    from projections.personal import Keys


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
