"""Text as people and callers may send it: the one rule both front doors apply.

The domain's `Text` refuses C0 controls; what a front door takes in is refused
more: C1 controls (U+0080-U+009F; U+009B begins a terminal escape) and the
bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069),
which make a note read otherwise than it is. The rule lives here rather than in
`Text`, which recorded events (and their published schemas) are read with.
"""

import re

_RANGES = (
    (0x00, 0x08),
    (0x0B, 0x0C),
    (0x0E, 0x1F),
    (0x7F, 0x9F),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
)
"""The refused code points: C0 controls but tab, newline and carriage return; DEL and the
C1 controls; bidirectional embeddings, overrides and isolates."""

_CLASS = "".join(
    rf"\u{low:04x}-\u{high:04x}" if low != high else rf"\u{low:04x}" for low, high in _RANGES
)

INPUT_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
"""The pattern the HTTP bodies carry, so the OpenAPI document states the rule (kept as
published; a test holds it to `_RANGES`)."""

REFUSED_CHARACTERS: frozenset[str] = frozenset(
    chr(c) for low, high in _RANGES for c in range(low, high + 1)
)
"""Every character the rule refuses."""

REFUSED_TEXT_MESSAGE = (
    "must not contain control characters (other than tab and newline) or bidirectional overrides"
)

_REFUSED = re.compile(f"[{_CLASS}]")


def refused_character(value: str) -> str | None:
    """The first refused character in `value`, or None when it may be taken in."""
    found = _REFUSED.search(value)
    return found.group() if found else None


def input_text(value: str) -> str:
    """`value` unchanged, or a ValueError saying which character the rule refuses."""
    found = refused_character(value)
    if found is not None:
        raise ValueError(f"{REFUSED_TEXT_MESSAGE} (found U+{ord(found):04X})")
    return value
