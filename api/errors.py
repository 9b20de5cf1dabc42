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

from api.problem import FieldError, problem_response
from api.refusals import ApiRefusal
from domain.errors import DomainError, ParcelAlreadyIntercepted, ParcelHasOpenIntercept, UnknownIntercept

log = logging.getLogger("intercept.api")

# The parcel rules name the intercept already on the parcel, which may be another
# merchant's: the rule is told, the other intercept's id is not.
_OTHERS_INTERCEPT = re.compile(r" \(intercept [0-9a-f-]{36}\)| [0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_PARCEL_RULES = (ParcelAlreadyIntercepted, ParcelHasOpenIntercept)


def _field_errors(errors: list[dict]) -> list[FieldError]:
    return [
        FieldError(where=".".join(str(p) for p in e["loc"]) or "body", message=e["msg"])
        for e in errors
    ]


def _invalid(request: Request, errors: list[dict]):
    summary = "; ".join(f"{e.where}: {e.message}" for e in _field_errors(errors))
    return problem_response(
        422, "Invalid input", "valid_input", f"invalid input: {summary}",
        request.url.path, _field_errors(errors),
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiRefusal)
    def _refused(request: Request, error: ApiRefusal):
        return problem_response(error.status, error.title, error.rule, error.detail,
                                request.url.path, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    def _request_invalid(request: Request, error: RequestValidationError):
        return _invalid(request, list(error.errors()))

    @app.exception_handler(ValidationError)
    def _command_invalid(request: Request, error: ValidationError):
        return _invalid(request, list(error.errors()))

    @app.exception_handler(DomainError)
    def _domain_refused(request: Request, error: DomainError):
        if isinstance(error, UnknownIntercept):
            return problem_response(404, "Not found", "visible_to_key", error.message,
                                    request.url.path)
        detail = error.message
        if isinstance(error, _PARCEL_RULES):
            detail = _OTHERS_INTERCEPT.sub("", detail)
        return problem_response(409, "Refused by a domain rule", error.rule, detail,
                                request.url.path)

    @app.exception_handler(HTTPException)
    def _http(request: Request, error: HTTPException):
        if error.status_code == 400:  # FastAPI's word for a body it could not even decode
            return _invalid(request, [{"loc": ("body",), "msg": str(error.detail)}])
        rule = {404: "visible_to_key", 405: "method_allowed"}.get(error.status_code, "valid_request")
        return problem_response(error.status_code, str(error.detail), rule, str(error.detail),
                                request.url.path, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    def _unexpected(request: Request, error: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "Internal error", "internal_error",
                                "the engine failed unexpectedly; a retry with the same "
                                "Idempotency-Key is safe", request.url.path)
