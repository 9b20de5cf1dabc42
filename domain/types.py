"""Constrained field types shared by commands and events.

Every text that reaches an event passes through one of these, so nothing
unbounded, empty or carrying control characters is ever recorded.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

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

    model_config = ConfigDict(frozen=True, extra="forbid")

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
