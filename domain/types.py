"""Constrained field types shared by commands and events.

Every text that reaches an event passes through one of these, so nothing
unbounded, empty or carrying control characters is ever recorded.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, WithJsonSchema

from domain.personal import SEALED_SCHEMA, Personal, Sealed, Subject

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
