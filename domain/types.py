"""Constrained field types shared by commands and events.

Every text that reaches an event passes through one of these, so nothing
unbounded, empty or carrying control characters is ever recorded.
"""

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from domain.personal import SEALED_SCHEMA, Personal, Sealed
from domain.vocabulary import Subject

Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]*$"),
]
"""An identifier or code: merchant, order, tracking number, actor, carrier ref, reason."""

Text = Annotated[
    str,
    StringConstraints(max_length=1000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"),
]
"""Free text such as a note or an address; newlines allowed, other control characters not."""

CarrierCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9]{1,15}$")]
"""A carrier, by its code in the carrier catalog (ZTO, SF, DBL): upper case letters and digits.
Which codes exist is configuration, checked by the front doors, not by the events."""

PersonText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\S[^\x00-\x1f\x7f]*$"
    ),
]
"""One line of a person's details: not blank, no control characters (not even a newline)."""

Phone = Annotated[
    str,
    StringConstraints(pattern=r"^\+?[0-9]{1,4}(-?[0-9]{2,8}){1,4}$", min_length=5, max_length=20),
]
"""A telephone number: digits, an optional leading +, single hyphens between groups."""
# Plain text between the decision and the recording only: the published contract is
# the sealed form, so that is what the schemas say.
BuyerText = Annotated[Text | Sealed, Personal(Subject.BUYER), WithJsonSchema(SEALED_SCHEMA)]
"""Free text about the buyer's order (notes): personal data of the order's buyer."""

RecipientText = Annotated[Text | Sealed, Personal(Subject.RECIPIENT), WithJsonSchema(SEALED_SCHEMA)]
"""The redirect recipient's name, phone or address: personal data of the recipient."""

IdempotencyKey = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
]

MinorAmount = Annotated[int, Field(ge=0, le=10**12)]
"""Money in minor units (fen); at most ten billion yuan, never negative."""

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


def _plausible(moment: datetime) -> datetime:
    # A year outside this range is a typo, not a parcel event.
    if not 2000 <= moment.year <= 2200:
        raise ValueError("must be between the years 2000 and 2200")
    return moment


# The same bounds for readers of the JSON Schemas, who cannot run `_plausible`.
_PLAUSIBLE_YEAR = Field(json_schema_extra={"pattern": "^(2[01][0-9]{2}|2200)-"})

Moment = Annotated[AwareDatetime, AfterValidator(_plausible), _PLAUSIBLE_YEAR]
"""A point in time with a timezone; naive times are refused, not guessed."""


class Recipient(BaseModel):
    """Whom and where a redirected parcel goes to. Personal data: it lives in these fields only."""

    # An event records it as `RecordedRecipient`, sealed (docs/privacy.md).

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _from_model(cls, value: Any) -> Any:
        return _fields_of_a_model(value)

    name: PersonText
    phone: Phone
    province: PersonText
    city: PersonText
    district: PersonText
    address: Annotated[
        str,
        StringConstraints(
            max_length=1000,
            pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*\S[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
        ),
    ]
    """The detail line (street, building, room); newlines allowed, blank refused."""


def _fields_of_a_model(value: Any) -> Any:
    # A recipient is the same whichever side holds it: the command's plaintext one or the
    # event's (sealed, or opened for reading).
    return value.model_dump() if isinstance(value, BaseModel) else value


# Checked as a `Recipient` when commanded (or as its past version when upcast): recorded,
# a part is that text, sealed, or `[erased]`.
_RecordedPart = Annotated[str | Sealed, Personal(Subject.RECIPIENT), WithJsonSchema(SEALED_SCHEMA)]


class RecordedRecipient(BaseModel):
    """A `Recipient` as an event records it: each part personal data of the recipient,
    sealed when recorded and published (docs/privacy.md); `[erased]` once erased."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: _RecordedPart
    phone: _RecordedPart
    province: _RecordedPart
    city: _RecordedPart
    district: _RecordedPart
    address: _RecordedPart

    @model_validator(mode="before")
    @classmethod
    def _from_model(cls, value: Any) -> Any:
        return _fields_of_a_model(value)
