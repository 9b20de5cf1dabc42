"""Every failure becomes a problem+json response naming its rule; none writes anything.

Commands are built and checked before they are executed, and the engine records
a command's events in one transaction, so an error at any point leaves no trace.
"""

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from api.problem import FieldError, ProblemResponse, problem_response
from api.refusals import ApiRefusal
from domain.errors import (
    DomainError,
    ParcelAlreadyIntercepted,
    ParcelHasOpenIntercept,
    UnknownIntercept,
)

log = logging.getLogger("intercept.api")

# The parcel rules name the intercept already on the parcel, which may be another
# merchant's: the rule is told, the other intercept's id is not.
_OTHERS_INTERCEPT = re.compile(
    r" \(intercept [0-9a-f-]{36}\)| [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"
)
_PARCEL_RULES = (ParcelAlreadyIntercepted, ParcelHasOpenIntercept)


def _invalid(request: Request, errors: list[dict]) -> ProblemResponse:
    fields = [
        FieldError(where=".".join(str(p) for p in e["loc"]) or "body", message=e["msg"])
        for e in errors
    ]
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
    detail = error.message
    if isinstance(error, _PARCEL_RULES):
        detail = _OTHERS_INTERCEPT.sub("", detail)
    return problem_response(409, "Refused by a domain rule", error.rule, detail, request.url.path)


def http_error(request: Request, error: HTTPException) -> ProblemResponse:
    if error.status_code == 400:  # FastAPI's word for a body it could not even decode
        return _invalid(request, [{"loc": ("body",), "msg": str(error.detail)}])
    rule = {404: "visible_to_key", 405: "method_allowed"}.get(error.status_code, "valid_request")
    return problem_response(
        error.status_code,
        str(error.detail),
        rule,
        str(error.detail),
        request.url.path,
        headers=getattr(error, "headers", None),
    )


def unexpected(request: Request, error: Exception) -> ProblemResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(
        500,
        "Internal error",
        "internal_error",
        "the engine failed unexpectedly; a retry with the same Idempotency-Key is safe",
        request.url.path,
    )


def install(app: FastAPI) -> None:
    for error_type, handler in (
        (ApiRefusal, refused),
        (RequestValidationError, request_invalid),
        (ValidationError, command_invalid),
        (DomainError, domain_refused),
        (HTTPException, http_error),
        (Exception, unexpected),
    ):
        app.add_exception_handler(error_type, handler)  # type: ignore[arg-type]
