"""Path, query and header parameters shared by the routes."""

import re
from typing import Annotated
from uuid import UUID

from fastapi import Header, Path
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from domain.types import Code, IdempotencyKey

_DIGITS = re.compile(r"[0-9]{1,12}")


def _digits_only(value: object) -> object:
    # pydantic's lax int takes "5.0", " 5", "+5" and "5_000" from a query string.
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise PydanticCustomError("int_parsing", "must be a whole number in digits, such as 20")
    return value


def _true_or_false(value: object) -> object:
    # pydantic's lax bool also takes 1, yes, on, t, y and their capitals.
    if isinstance(value, str):
        if value not in ("true", "false"):
            raise PydanticCustomError("bool_parsing", "must be true or false")
        return value == "true"
    return value


QueryInt = Annotated[int, BeforeValidator(_digits_only)]
"""An integer query parameter, written in digits only."""

QueryBool = Annotated[bool, BeforeValidator(_true_or_false)]
"""A boolean query parameter: `true` or `false`, nothing else."""

InterceptId = Annotated[UUID, Path(description="The intercept's id, as the request returned it.")]

MerchantId = Annotated[Code, Path(description="The merchant's id.")]

IdempotencyKeyHeader = Annotated[
    IdempotencyKey | None,
    Header(
        alias="Idempotency-Key",
        description="A retry with the same key and the same command returns the first result "
        "and records nothing new; the same key for a different command is refused (409).",
    ),
]

RequiredIdempotencyKeyHeader = Annotated[
    IdempotencyKey,
    Header(
        alias="Idempotency-Key",
        description="Required: this command is not idempotent by nature, so a retry is "
        "recognised by its key. A retry with the same key and the same command returns the "
        "first result and records nothing new; the same key for a different command is "
        "refused (409).",
    ),
]
