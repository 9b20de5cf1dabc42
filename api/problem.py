"""RFC 9457 problem details: the one shape every error of the API takes."""

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"


class FieldError(BaseModel):
    where: str = Field(description="Where the bad value is, e.g. `body.amount_minor`.")
    message: str


class Problem(BaseModel):
    """What went wrong, and the rule that refused the request."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(description="A URI naming the kind of problem: `urn:intercept:problem:RULE`.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    rule: str = Field(
        description="The rule that refused the request, e.g. `policy_carrier_enabled`."
    )
    instance: str | None = Field(default=None, description="The path that was requested.")
    errors: list[FieldError] | None = Field(
        default=None, description="Each invalid field (422 only)."
    )


class ProblemResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem_response(
    status: int,
    title: str,
    rule: str,
    detail: str,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> ProblemResponse:
    body = Problem(
        type=f"urn:intercept:problem:{rule}",
        title=title,
        status=status,
        detail=detail,
        rule=rule,
        instance=instance,
        errors=errors,
    )
    return ProblemResponse(body.model_dump(mode="json", exclude_none=True), status, headers)


_MEANINGS = {
    401: "No valid API key (or, for callbacks, no valid signature). Nothing was recorded.",
    403: "This key's role may not do this. Nothing was recorded.",
    404: "No such resource visible to this key (another merchant's looks the same as none).",
    409: "Refused by a domain rule, named in `rule`. Nothing was recorded.",
    413: "The body is larger than this endpoint reads (1 MiB for JSON; evidence: 20 MiB files). "
    "Nothing was recorded.",
    422: "Invalid input; `errors` names each field. Nothing was recorded.",
    503: "Storage unavailable: `rule` names the cause (`storage_full`, `storage_read_only`, "
    "`storage_busy`, `evidence_stored_first`); `Retry-After` when waiting can help. Nothing "
    "was recorded by this request.",
}


def meaning(status: int) -> str:
    return _MEANINGS[status]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error responses an operation documents, all as problem+json."""
    return {status: {"model": Problem, "description": _MEANINGS[status]} for status in statuses}
