"""The one small interface every carrier protocol speaks, and the words it answers in.

An adapter turns the engine's intent (request, cancel, ask for eligibility) into one
carrier protocol's HTTP calls, and a carrier's callback back into reports in the
domain's words. Each protocol family is one module (carriers/direct.py,
carriers/aggregator.py, carriers/generic.py) holding both sides of its wire format:
the client the gateway uses and the helpers the simulator answers with, so the two
cannot drift apart. Each module has exactly one table from the carrier's status codes
to the domain's reports.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import httpx

DEFAULT_TIMEOUT = 5.0
"""Seconds one HTTP call to a carrier may take before it counts as a timeout."""

Meaning = tuple[str, str | None]
"""What a carrier's status code means: a CarrierReport value, and the FailureReason or
RejectionCode value that details it (None for progress)."""


@dataclass(frozen=True)
class Connection:
    """How to reach one carrier: where, as whom, and the shared secret. Never printed."""

    base_url: str
    key: str
    secret: str = field(repr=False)
    callback_url: str | None = None
    """Where the carrier pushes its callbacks to (the engine's callback route)."""
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Outbound:
    """One intercept as it is sent to a carrier."""

    request_id: UUID
    """Derived from the intercept and the action (domain.ids.carrier_request_id): a resend
    carries the same id, and the carrier answers it as the same request."""
    intercept_id: UUID
    carrier: str
    tracking_no: str
    action: str
    reason: str
    recipient: Mapping[str, Any] | None = None
    carrier_ref: str | None = None
    """The carrier's task number, for a cancel of an accepted request."""


@dataclass(frozen=True)
class Answer:
    """A carrier's synchronous answer, in the domain's words.

    `report` is a CarrierReport value: `accepted` or `rejected` for a request; `released`,
    `confirmed` (the cancel came after the intercept succeeded) or `failed` for a cancel.
    """

    report: str
    carrier_ref: str | None = None
    code: str | None = None
    """A RejectionCode value when the carrier rejected the request."""
    reason: str | None = None
    """A FailureReason value when the report is `failed`."""
    message: str | None = None
    occurred_at: datetime | None = None

    @classmethod
    def cancelled(
        cls, meaning: Meaning, carrier_ref: str | None, occurred_at: datetime | None
    ) -> "Answer":
        """A cancel's answer, from what the carrier's status means."""
        report, detail = meaning
        return cls(
            report,
            carrier_ref=carrier_ref,
            reason=detail if report == "failed" else None,
            occurred_at=occurred_at,
        )


@dataclass(frozen=True)
class Quote:
    """Whether the carrier would intercept the parcel now, and for how much."""

    stage: str
    """A ParcelStage value: where the carrier says the parcel is."""
    allowed: bool
    code: str | None = None
    """The RejectionCode value the carrier would reject it with."""
    fee_minor: int | None = None
    message: str | None = None


@dataclass(frozen=True)
class Report:
    """One report a carrier's callback carries, in the domain's words, and what it names."""

    report: str
    tracking_no: str | None = None
    carrier_ref: str | None = None
    intercept_id: UUID | None = None
    reason: str | None = None
    code: str | None = None
    occurred_at: datetime | None = None

    @classmethod
    def meaning(
        cls,
        meaning: Meaning,
        *,
        tracking_no: str | None,
        carrier_ref: str | None,
        occurred_at: datetime | None,
    ) -> "Report":
        """The report a status table's entry means: its detail is a failure's reason or a
        rejection's code."""
        report, detail = meaning
        return cls(
            report=report,
            tracking_no=tracking_no,
            carrier_ref=carrier_ref,
            reason=detail if report == "failed" else None,
            code=detail if report == "rejected" else None,
            occurred_at=occurred_at,
        )


@dataclass(frozen=True)
class Reply:
    """What the callback endpoint answers: the status and body the protocol expects."""

    status: int
    body: bytes
    media_type: str = "application/json"


@dataclass(frozen=True)
class Call:
    """A call as the carrier's side receives it, read by its protocol (the simulator's view)."""

    operation: str | None
    """`quote`, `request` or `cancel`; None when the protocol has no such endpoint."""
    name: str
    """The path or method the caller used, for the answer to an unknown one."""
    fields: Mapping[str, Any]
    """What it names in the engine's words: request_id, tracking_no, action, carrier_ref,
    recipient."""


@dataclass(frozen=True)
class Push:
    """A callback the carrier's side pushes: what happened to which task (the simulator's)."""

    report: str
    reason: str | None
    carrier: str
    tracking_no: str
    task_no: str
    request_id: str
    at: datetime
    """When it happened, as the carrier reports it."""
    sent_at: float
    """When it is sent (Unix seconds), for protocols that sign the moment of sending."""


class Unreachable(Exception):
    """Worth trying again: a timeout, a connection error or a 5xx."""


class ProtocolError(Exception):
    """A definite answer that is no answer: refused credentials, a malformed reply.

    Not retried: sending the same again would be answered the same.
    """


class BadCallback(Exception):
    """A callback whose signature is missing or wrong, or that cannot be read; nothing runs."""


class Adapter(Protocol):
    """One carrier protocol family."""

    name: str

    def request(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer: ...

    def cancel(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer: ...

    def quote(
        self, client: httpx.Client, conn: Connection, carrier: str, tracking_no: str, action: str
    ) -> Quote: ...

    def parse_callback(
        self, conn: Connection, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[Report]:
        """The reports a callback carries; `BadCallback` when its signature does not verify."""
        ...

    def acknowledge(self) -> Reply:
        """What the carrier expects back from a callback that was taken."""
        ...


def post(client: httpx.Client, conn: Connection, path: str, **kwargs: Any) -> httpx.Response:
    """One call to the carrier; what is worth retrying raises `Unreachable`."""
    url = conn.base_url.rstrip("/") + path
    try:
        response = client.post(url, timeout=conn.timeout, **kwargs)
    except httpx.TimeoutException as error:
        raise Unreachable(f"timed out after {conn.timeout:g}s ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise Unreachable(f"cannot connect: {type(error).__name__}") from None
    if response.status_code >= 500:
        raise Unreachable(f"the carrier answered {response.status_code}")
    if response.status_code >= 400:
        raise ProtocolError(f"the carrier answered {response.status_code}: {_short(response)}")
    return response


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(f"the carrier's answer is not JSON: {_short(response)}") from None
    if not isinstance(body, dict):
        raise ProtocolError("the carrier's answer is not a JSON object")
    return body


def _short(response: httpx.Response) -> str:
    return response.text[:200].replace("\n", " ")


def meaning_in(table: Mapping[str, Meaning], code: str, what: str) -> Meaning:
    """What a carrier's code means by its protocol's table; an unknown code is no answer."""
    try:
        return table[code]
    except KeyError:
        raise ProtocolError(f"unknown {what} {code!r}") from None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, its name matched regardless of case, as HTTP has it."""
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


def minor_units(fee: Any) -> int | None:
    """A quoted fee in fen, when the carrier sent a whole number; anything else is no quote."""
    return fee if isinstance(fee, int) and not isinstance(fee, bool) else None


def moment(text: Any) -> datetime | None:
    """A carrier's event time (ISO 8601 with a zone), or None when it sent none."""
    if text in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(text))
    except ValueError:
        raise BadCallback(f"the event time {text!r} is not ISO 8601") from None
    if parsed.tzinfo is None:
        raise BadCallback(f"the event time {text!r} has no timezone")
    return parsed
