"""The outermost layer of the API: what is decided before a route runs, and after one fails.

FastAPI reads a request's body before it resolves any dependency, so the key
check in api/access.py would come only after an unauthenticated caller had made
the server receive (and hold) whatever it sent. This layer checks the key from
the headers alone first; a request carrying a body without a valid key is
answered 401 and its body is never read. The key found is handed on to the
route, so it is looked up once.

It also turns an exception that escaped every handler into a problem+json
answer here, instead of letting it reach uvicorn: uvicorn logs a traceback and
drops the keep-alive connection, and the client's next request on it is lost.
"""

import json
import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.faults import problem_for_fault
from api.problem import problem_response
from api.refusals import BodyTooLarge, NotAuthenticated
from engine.evidence_store import BODY_LIMIT as EVIDENCE_BODY_LIMIT

log = logging.getLogger("intercept.api")

JSON_BODY_LIMIT = 1024 * 1024
"""The largest JSON body any route reads (a batch of 100 cancels is under 10 KiB)."""

MAX_AUTHORIZATION = 1024
"""A key is 46 characters; a longer Authorization header is not one of ours."""

STATE_KEY = "api_key"
"""Where the key this layer authenticated is left in the request's state."""


def body_limit(path: str) -> int:
    return EVIDENCE_BODY_LIMIT if path.endswith("/evidence") else JSON_BODY_LIMIT


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


class _Overrun(HTTPException):
    """Raised from `receive`: FastAPI lets an HTTPException through its body parsing."""

    def __init__(self) -> None:
        super().__init__(413, "Content too large")


class DuplicateKey(HTTPException):
    """A JSON object naming a key twice: which value was meant cannot be known."""

    def __init__(self, key: str) -> None:
        super().__init__(422, "Invalid input")
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def _check_json(body: bytes) -> None:
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except ValueError:
        pass  # not JSON at all: the route says so in its own words


def _is_json(headers: Headers) -> bool:
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _limited(receive: Receive, limit: int, json_body: bool) -> Receive:
    # A chunked body declares no length: count what arrives and stop at the limit,
    # leaving the rest unread (uvicorn discards it once the answer is sent).
    received = 0
    # JSON parsers keep the last of two equal keys; the body is checked once whole,
    # before the route parses it. Its size is bounded by the limit above.
    chunks: list[bytes] = []

    async def limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise _Overrun()
            if json_body:
                chunks.append(chunk)
                if not message.get("more_body", False):
                    _check_json(b"".join(chunks))
        return message

    return limited


class Guard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            refusal = await self._refusal(scope)
            if refusal is not None:
                return await refusal(scope, receive, send)
            limit, json_body = body_limit(scope["path"]), _is_json(Headers(scope=scope))
            await self.app(scope, _limited(receive, limit, json_body), tracking)
        except Exception as error:  # every handler declined it: answer, keep the connection
            if started:
                raise
            await self._failed(scope, error)(scope, receive, send)

    async def _refusal(self, scope: Scope) -> Any:
        headers = Headers(scope=scope)
        path = scope["path"]
        if not path.startswith("/v1/"):
            return None
        authorization = headers.get("authorization")
        if authorization is not None and len(authorization) > MAX_AUTHORIZATION:
            return _not_authenticated(
                path, f"the Authorization header is over {MAX_AUTHORIZATION} characters"
            )
        if not _has_body(headers):
            return None  # the route's own key check answers as it always has
        services = scope["app"].state.services
        if services is None:
            return None
        scheme, _, credentials = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            return _not_authenticated(path, "send an API key as 'Authorization: Bearer KEY'")
        key = services.keys.authenticate(credentials.strip())  # cached: no I/O as a rule
        if key is None:
            return _not_authenticated(path, "the API key is not known or has been revoked")
        scope.setdefault("state", {})[STATE_KEY] = key
        length = headers.get("content-length", "0").strip()
        if not length.isdigit():
            return None  # h11 has refused it already; nothing to add
        if int(length) > body_limit(path):
            return too_large(path)
        return None

    def _failed(self, scope: Scope, error: Exception):
        services = scope["app"].state.services
        home = services.keys.path.parent if services is not None else None
        fault = problem_for_fault(error, scope["path"], home)
        if fault is not None:
            log.warning("%s %s: %s", scope["method"], scope["path"], fault.log_line)
            return fault.response
        # The type and the message only: a traceback in the log is no use to the operator
        # that a message naming the failure is not, and may carry request data.
        log.error(
            "unexpected error on %s %s: %s: %s",
            scope["method"],
            scope["path"],
            type(error).__name__,
            error,
        )
        return problem_response(
            500,
            "Internal error",
            "internal_error",
            "the engine failed unexpectedly; a retry with the same Idempotency-Key is safe",
            scope["path"],
        )


def _answer(refusal, path: str):
    return problem_response(
        refusal.status, refusal.title, refusal.rule, refusal.detail, path, headers=refusal.headers
    )


def _not_authenticated(path: str, detail: str):
    return _answer(NotAuthenticated(detail), path)


def too_large(path: str):
    limit = body_limit(path)
    return _answer(
        BodyTooLarge(f"this endpoint reads request bodies of at most {limit} bytes"), path
    )
