"""Path and header parameters shared by the routes."""

from typing import Annotated
from uuid import UUID

from fastapi import Header, Path

from domain.types import Code, IdempotencyKey

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
