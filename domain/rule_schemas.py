"""Cross-field rules of the events in JSON Schema form.

The pydantic validators enforce these rules in Python; the same rules go into
the published schemas so that a reader in any language can check them too.
"""

from typing import Any

REDIRECT_HAS_ADDRESS: dict[str, Any] = {
    "if": {"properties": {"action": {"const": "redirect"}}, "required": ["action"]},
    "then": {
        "required": ["new_address"],
        "properties": {"new_address": {"type": "string", "minLength": 1}},
    },
    "else": {"properties": {"new_address": {"anyOf": [{"type": "null"}, {"const": ""}]}}},
}
"""A redirect needs a new address, and only a redirect takes one."""

OTHER_CANCEL_HAS_NOTE: dict[str, Any] = {
    "if": {"properties": {"reason": {"const": "other"}}, "required": ["reason"]},
    "then": {"required": ["note"], "properties": {"note": {"type": "string", "pattern": "\\S"}}},
}
"""A cancel for reason `other` needs a note that is not blank."""
