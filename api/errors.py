"""Every failure becomes a problem+json response naming its rule; none writes anything.

Commands are built and checked before they are executed, and the engine records
a command's events in one transaction, so an error at any point leaves no trace.
"""

import re
from uuid import UUID

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.guard import STATE_KEY, DuplicateKey, too_large
from api.problem import FieldError, ProblemResponse, problem_response
from api.refusals import ApiRefusal
from domain.errors import (
    DomainError,
    ParcelAlreadyIntercepted,
    ParcelHasOpenIntercept,
    UnknownIntercept,
)
from domain.text import INPUT_TEXT_PATTERN, REFUSED_TEXT_MESSAGE
from domain.types import Code

# The parcel rules name the intercept already on the parcel. To the merchant whose
# intercept it is, the rule is told without the id; to any other merchant neither
# the intercept, nor its status, nor which rule held: only that the parcel cannot
# be intercepted for it (docs/api.md says what holds before shipment facts exist).
_INTERCEPT_ID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_OTHERS_INTERCEPT = re.compile(
    r" \(intercept [0-9a-f-]{36}\)| [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
)
_PARCEL_RULES = (ParcelAlreadyIntercepted, ParcelHasOpenIntercept)
_PARCEL = re.compile(r"^parcel (\S+ \S+) ")
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


# pydantic's wording for a ValueError or an assertion raised by a validator:
# its prefix says how the rule was written, not what the caller should send.
_VALIDATOR_PREFIX = re.compile(r"^(Value error|Assertion failed), ")


def _where(error: dict) -> str:
    if error.get("type") == "json_invalid":
        return "body"  # FastAPI puts the character offset where a field name goes
    return ".".join(str(p) for p in error["loc"]) or "body"


def _patterns() -> dict[str, str]:
    code = TypeAdapter(Code).json_schema()["pattern"]
    return {
        INPUT_TEXT_PATTERN: REFUSED_TEXT_MESSAGE,
        code: "must be 1-64 letters, digits or _ . : @ -, starting with a letter or digit",
    }


_PATTERN_MEANINGS = _patterns()


def _message(error: dict) -> str:
    if error.get("type") == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        return _PATTERN_MEANINGS.get(pattern, f"must match the pattern {pattern}")
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        return f"the body is not valid JSON ({reason})" if reason else "the body is not JSON"
    return _VALIDATOR_PREFIX.sub("", str(error["msg"]))


def _invalid(request: Request, errors: list[dict]) -> ProblemResponse:
    fields = [FieldError(where=_where(e), message=_message(e)) for e in errors]
    summary = "; ".join(f"{e.where}: {e.message}" for e in fields)
    return problem_response(
        422, "Invalid input", "valid_input", f"invalid input: {summary}", request.url.path, fields
    )


def refused(request: Request, error: ApiRefusal) -> ProblemResponse:
    return problem_response(
        error.status, error.title, error.rule, error.detail, request.url.path, headers=error.headers
    )


def request_invalid(request: Request, error: RequestValidationError) -> ProblemResponse:
    return _invalid(request, [dict(e) for e in error.errors()])


def command_invalid(request: Request, error: ValidationError) -> ProblemResponse:
    return _invalid(request, [dict(e) for e in error.errors()])


def domain_refused(request: Request, error: DomainError) -> ProblemResponse:
    if isinstance(error, UnknownIntercept):
        return problem_response(404, "Not found", "visible_to_key", error.message, request.url.path)
    rule, detail = error.rule, error.message
    if isinstance(error, _PARCEL_RULES):
        if _held_by_caller(request, error):
            detail = _OTHERS_INTERCEPT.sub("", detail)
        else:
            parcel = _PARCEL.match(detail)
            what = f"parcel {parcel.group(1)}" if parcel else "the parcel"
            rule, detail = (
                "parcel_unavailable",
                f"{what} cannot be intercepted for this merchant now",
            )
    return problem_response(409, "Refused by a domain rule", rule, detail, request.url.path)


def _held_by_caller(request: Request, error: DomainError) -> bool:
    found = _INTERCEPT_ID.search(error.message)
    key = getattr(request.state, STATE_KEY, None)
    if found is None or key is None:
        return False
    owner = request.app.state.services.gateway.owner(UUID(found.group(0)))
    return owner is not None and owner.merchant_id == key.merchant_id


def http_error(request: Request, error: HTTPException) -> ProblemResponse:
    if error.status_code == 400:  # FastAPI's word for a body it could not even decode
        return _invalid(
            request, [{"loc": ("body",), "msg": "the body could not be read as this route's type"}]
        )
    if error.status_code == 413:
        return too_large(request.url.path)
    if isinstance(error, DuplicateKey):
        return _invalid(
            request,
            [{"loc": ("body", error.key), "msg": "appears more than once in the same object"}],
        )
    headers = dict(getattr(error, "headers", None) or {})
    if error.status_code == 405:
        headers["Allow"] = ", ".join(_methods_of(request))
    rule = {404: "visible_to_key", 405: "method_allowed"}.get(error.status_code, "valid_request")
    return problem_response(
        error.status_code,
        str(error.detail),
        rule,
        str(error.detail),
        request.url.path,
        headers=headers or None,
    )


def _methods_of(request: Request) -> list[str]:
    # Starlette's 405 names the methods of the first route on the path only, and
    # one path here has several routes (GET and POST /v1/intercepts are two routers').
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install(app: FastAPI) -> None:
    for error_type, handler in (
        (ApiRefusal, refused),
        (RequestValidationError, request_invalid),
        (ValidationError, command_invalid),
        (DomainError, domain_refused),
        (HTTPException, http_error),
    ):  # anything else is api/guard.py's to answer
        app.add_exception_handler(error_type, handler)  # type: ignore[arg-type]
