"""Which event fields hold personal data, and the sealed form they are recorded in.

Each text field of an event is classified where it is declared: `Personal(subject)` in
its annotation (through domain.types' `BuyerText` / `RecipientText`) or `NotPersonal(...)`
saying why not. The engine seals every personal field before the event is recorded:
the event store, the topic and the timeline hold a `Sealed` value, AES-256-GCM
ciphertext under a key of the field's data subject (docs/privacy.md). Erasing a subject
destroys its keys; its sealed values then read as `ERASED`.

Nothing here encrypts: the domain only says what is personal and whose it is.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, partial
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from domain.ids import NAMESPACE
from domain.vocabulary import Subject


@dataclass(frozen=True)
class Personal:
    """Marks a field as personal data of `subject`: recorded only sealed."""

    subject: Subject


@dataclass(frozen=True)
class NotPersonal:
    """Marks a text field as not personal data, saying why."""

    why: str


SUBJECT_ID_PATTERN = r"^(buyer|recipient)-[0-9a-f]{32}$"
KEY_ID_PATTERN = r"^k_[0-9a-f]{32}$"


def buyer_subject(merchant_id: str, order_id: str) -> str:
    """The buyer of a merchant's order: one subject for all the order's intercepts."""
    return f"buyer-{uuid5(NAMESPACE, f'subject/buyer/{merchant_id}/{order_id}').hex}"


def recipient_subject(intercept_id: UUID) -> str:
    """The redirect recipient of one intercept."""
    return f"recipient-{uuid5(NAMESPACE, f'subject/recipient/{intercept_id}').hex}"


def subject_kind(subject_id: str) -> Subject:
    return Subject(subject_id.split("-", 1)[0])


class Sealed(BaseModel):
    """A personal field as recorded and published: ciphertext and the key that opens it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(
        pattern=SUBJECT_ID_PATTERN, description="the data subject whose key sealed the value"
    )
    key_id: str = Field(pattern=KEY_ID_PATTERN, description="the subject key that sealed it")
    ciphertext: str = Field(
        pattern=r"^[A-Za-z0-9_-]+$",
        description="base64url (no padding) of the 12-byte nonce, then the AES-256-GCM "
        "ciphertext and its 16-byte tag; the associated data is the key id",
    )


SEALED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Sealed",
    "description": "Personal data, encrypted per data subject (docs/privacy.md)",
    "additionalProperties": False,
    "required": ["subject", "key_id", "ciphertext"],
    "properties": {
        "subject": {"type": "string", "pattern": SUBJECT_ID_PATTERN},
        "key_id": {"type": "string", "pattern": KEY_ID_PATTERN},
        "ciphertext": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
    },
}

IDENTIFIER = NotPersonal("an identifier or code the engine issues or the platform assigns")
DIGEST = NotPersonal("a content hash or the engine's own file reference, not the content")


Path = tuple[str, ...]


def _marker(metadata: list[Any], annotation: Any) -> Personal | NotPersonal | None:
    """The field's marker: on the field itself, or on a member of its union
    (`BuyerText | None` keeps the marker inside the union)."""
    for item in metadata:
        if isinstance(item, Personal | NotPersonal):
            return item
    origin = get_origin(annotation)
    if origin is Annotated:
        return _marker(list(annotation.__metadata__), get_args(annotation)[0])
    if origin in (Union, UnionType):
        for arg in get_args(annotation):
            found = _marker([], arg)
            if found is not None:
                return found
    return None


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models an annotation can hold (`Recipient | None` gives Recipient)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _models_in(get_args(annotation)[0])
    elif origin in (Union, UnionType):
        for arg in get_args(annotation):
            yield from _models_in(arg)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation is not Sealed:
            yield annotation


def _holds_text(annotation: Any) -> bool:
    """Whether a field can hold free-form text (an enum is a closed vocabulary: it cannot)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _holds_text(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_holds_text(a) for a in get_args(annotation) if a is not NoneType)
    return annotation is str


@dataclass(frozen=True)
class Classification:
    personal: dict[Path, Subject]
    not_personal: frozenset[Path]
    unclassified: frozenset[Path]


@cache
def classify(model: type[BaseModel]) -> Classification:
    """Every text field of `model` and of the models it nests, by its marker."""
    personal: dict[Path, Subject] = {}
    plain: set[Path] = set()
    unknown: set[Path] = set()
    for name, info in model.model_fields.items():
        marker = _marker(info.metadata, info.annotation)
        if isinstance(marker, Personal):
            personal[(name,)] = marker.subject
            continue
        if isinstance(marker, NotPersonal):
            plain.add((name,))
            continue
        nested = list(_models_in(info.annotation))
        for inner in nested:
            sub = classify(inner)
            personal.update({(name, *p): s for p, s in sub.personal.items()})
            plain.update((name, *p) for p in sub.not_personal)
            unknown.update((name, *p) for p in sub.unclassified)
        if not nested and _holds_text(info.annotation):
            unknown.add((name,))
    return Classification(personal, frozenset(plain), frozenset(unknown))


def personal_paths(model: type[BaseModel]) -> dict[Path, Subject]:
    """The personal fields of `model` (nested ones as paths), with their subjects."""
    return classify(model).personal


Change = Callable[[Any, Subject], Any]


def map_personal(state: dict[str, Any], model: type[BaseModel], change: Change) -> dict[str, Any]:
    """`state` (an event's fields as JSON values) with every personal value `v` set to
    `change(v, subject)`; absent and null values stay as they are. Copies what it changes."""
    paths = personal_paths(model)
    if not paths:
        return state
    out = dict(state)
    for path, subject in paths.items():
        _change_at(out, path, partial(_with_subject, change, subject))
    return out


def _with_subject(change: Change, subject: Subject, value: Any) -> Any:
    return change(value, subject)


def _change_at(state: dict[str, Any], path: Path, change: Callable[[Any], Any]) -> None:
    head, *rest = path
    value = state.get(head)
    if value is None:
        return
    if not rest:
        state[head] = change(value)
        return
    if isinstance(value, dict):
        inner = dict(value)
        _change_at(inner, tuple(rest), change)
        state[head] = inner
