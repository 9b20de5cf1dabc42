"""Cross-field rules shared by commands and events, in Python and in JSON Schema form.

Commands and events enforce them through the same functions; the same rules go
into the published schemas so that a reader in any language can check them too.
"""

from datetime import datetime
from typing import Any

from domain.vocabulary import Action, CancelReason


def require_redirect_address(action: Action, new_address: str | None) -> None:
    if (action is Action.REDIRECT) != bool(new_address):
        raise ValueError("a redirect needs a new address, and only a redirect takes one")


def require_redirect_recipient(action: Action, recipient: object | None) -> None:
    if (action is Action.REDIRECT) != (recipient is not None):
        raise ValueError("a redirect needs a recipient, and only a redirect takes one")


def require_picked_up_before(picked_up_at: datetime | None, requested_at: datetime) -> None:
    # A parcel is intercepted in transit: its pickup is a fact from before the request.
    if picked_up_at is not None and picked_up_at > requested_at:
        raise ValueError(
            f"picked_up_at {picked_up_at.isoformat()} is after the request "
            f"({requested_at.isoformat()}): a pickup time is never in the request's future"
        )


def require_note_for_other(reason: CancelReason, note: object) -> None:
    # A sealed note (docs/privacy.md) was checked as text before it was sealed.
    blank = note is None or (isinstance(note, str) and not note.strip())
    if reason is CancelReason.OTHER and blank:
        raise ValueError("a cancel for reason 'other' needs a note saying why")


REDIRECT_HAS_ADDRESS: dict[str, Any] = {
    "if": {"properties": {"action": {"const": "redirect"}}, "required": ["action"]},
    "then": {
        "required": ["new_address"],
        "properties": {"new_address": {"type": "string", "minLength": 1}},
    },
    "else": {"properties": {"new_address": {"anyOf": [{"type": "null"}, {"const": ""}]}}},
}
"""A redirect needs a new address, and only a redirect takes one."""

REDIRECT_HAS_RECIPIENT: dict[str, Any] = {
    "if": {"properties": {"action": {"const": "redirect"}}, "required": ["action"]},
    "then": {"required": ["recipient"], "properties": {"recipient": {"type": "object"}}},
    "else": {"properties": {"recipient": {"type": "null"}}},
}
"""A redirect needs a recipient, and only a redirect takes one."""

OTHER_CANCEL_HAS_NOTE: dict[str, Any] = {
    "if": {"properties": {"reason": {"const": "other"}}, "required": ["reason"]},
    "then": {"required": ["note"], "properties": {"note": {"type": "string", "pattern": "\\S"}}},
}
"""A cancel for reason `other` needs a note that is not blank."""

OTHER_CANCEL_HAS_SEALED_NOTE: dict[str, Any] = {
    "if": {"properties": {"reason": {"const": "other"}}, "required": ["reason"]},
    "then": {"required": ["note"], "properties": {"note": {"type": "object"}}},
}
"""A cancel for reason `other` needs a note: sealed, so its text was checked when recorded."""
