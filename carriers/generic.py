"""The engine's own JSON protocol, for carriers that adopt it: the domain's words on the wire.

Every call and every callback is signed as the engine's carrier callbacks always were
(carriers/signing.py): `X-Intercept-Timestamp` (Unix seconds) and
`X-Intercept-Signature: sha256=` + hex HMAC-SHA256(secret, timestamp + "." + body).
A callback names its intercept by the engine's id, by the tracking number, or by the
carrier's own reference.
"""

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import orjson

from carriers.protocol import (
    Answer,
    BadCallback,
    Call,
    Connection,
    Meaning,
    Outbound,
    ProtocolError,
    Push,
    Quote,
    Reply,
    Report,
    header,
    json_of,
    minor_units,
    moment,
    post,
)
from carriers.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureRefused, sign, verify

REPORTS = (
    "accepted",
    "confirmed",
    "failed",
    "released",
    "rejected",
    "returning",
    "returned",
    "delivered_to_new_address",
)
STATUS: Mapping[str, Meaning] = {report: (report, None) for report in REPORTS}
"""The protocol speaks the domain's own report words: the table is the identity."""


def signed_headers(conn: Connection, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "content-type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(conn.secret, timestamp, body),
    }


def verified(conn: Connection, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
    try:
        verify(
            conn.secret,
            header(headers, TIMESTAMP_HEADER),
            header(headers, SIGNATURE_HEADER),
            body,
            now,
        )
    except SignatureRefused as refusal:
        raise BadCallback(str(refusal)) from None


def report_of(word: Any) -> str:
    if word not in STATUS:
        raise ProtocolError(f"unknown report {word!r}")
    return STATUS[word][0]


class GenericAdapter:
    name = "generic"

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or time.time

    def _call(
        self, client: httpx.Client, conn: Connection, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        raw = orjson.dumps(body)
        headers = signed_headers(conn, raw, self._clock())
        return json_of(post(client, conn, path, content=raw, headers=headers))

    def request(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer:
        answer = self._call(
            client,
            conn,
            "/v1/intercepts",
            {
                "request_id": str(outbound.request_id),
                "intercept_id": str(outbound.intercept_id),
                "carrier": outbound.carrier,
                "tracking_no": outbound.tracking_no,
                "action": outbound.action,
                "reason": outbound.reason,
                "recipient": dict(outbound.recipient) if outbound.recipient else None,
            },
        )
        report = report_of(answer.get("outcome"))
        if report == "rejected":
            return Answer("rejected", code=answer.get("code"), message=answer.get("message"))
        if report != "accepted" or not answer.get("carrier_ref"):
            raise ProtocolError(f"a request answered {answer.get('outcome')!r} without a reference")
        return Answer(
            "accepted",
            carrier_ref=str(answer["carrier_ref"]),
            occurred_at=moment(answer.get("occurred_at")),
        )

    def cancel(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer:
        answer = self._call(
            client,
            conn,
            "/v1/intercepts/cancel",
            {
                "request_id": str(outbound.request_id),
                "intercept_id": str(outbound.intercept_id),
                "tracking_no": outbound.tracking_no,
                "carrier_ref": outbound.carrier_ref,
            },
        )
        return Answer(
            report_of(answer.get("report")),
            carrier_ref=outbound.carrier_ref,
            reason=answer.get("reason"),
            occurred_at=moment(answer.get("occurred_at")),
        )

    def quote(
        self, client: httpx.Client, conn: Connection, carrier: str, tracking_no: str, action: str
    ) -> Quote:
        answer = self._call(
            client,
            conn,
            "/v1/eligibility",
            {"carrier": carrier, "tracking_no": tracking_no, "action": action},
        )
        return Quote(
            stage=str(answer.get("stage") or "unknown"),
            allowed=bool(answer.get("allowed")),
            code=answer.get("code"),
            fee_minor=minor_units(answer.get("fee_minor")),
            message=answer.get("message"),
        )

    def parse_callback(
        self, conn: Connection, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[Report]:
        verified(conn, headers, body, now)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadCallback("the body is not JSON") from None
        if not isinstance(data, dict) or data.get("report") not in STATUS:
            raise BadCallback(
                f"unknown report {data.get('report') if isinstance(data, dict) else data!r}"
            )
        iid = data.get("intercept_id")
        try:
            intercept = UUID(iid) if iid else None
        except (TypeError, ValueError):
            raise BadCallback(f"intercept_id {iid!r} is not a uuid") from None
        report = STATUS[data["report"]][0]
        return [
            Report(
                report=report,
                tracking_no=data.get("tracking_no"),
                carrier_ref=data.get("carrier_ref"),
                intercept_id=intercept,
                reason=data.get("reason"),
                code=data.get("code"),
                occurred_at=moment(data.get("occurred_at")),
            )
        ]

    def acknowledge(self) -> Reply:
        return Reply(200, orjson.dumps({"received": True}))


# ---- the carrier's side, as the simulator speaks it -----------------------------

OPERATIONS: Mapping[str, str] = {
    "/v1/eligibility": "quote",
    "/v1/intercepts": "request",
    "/v1/intercepts/cancel": "cancel",
}
BUSY = {"error": "busy"}


def incoming(
    conn: Connection, path: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> Call:
    """A signed call to the carrier, read; `BadCallback` saying why when it does not verify."""
    verified(conn, headers, body, now)
    return Call(OPERATIONS.get(path), path, orjson.loads(body))


def refused(why: str) -> dict[str, Any]:
    return {"error": why}


def unknown(name: str) -> tuple[int, dict[str, Any]]:
    return 404, {"error": "no such endpoint"}


def accepted(task_no: str, at: datetime) -> dict[str, Any]:
    return {"outcome": "accepted", "carrier_ref": task_no, "occurred_at": at.isoformat()}


def rejected(code: str, message: str) -> dict[str, Any]:
    return {"outcome": "rejected", "code": code, "message": message}


def cancelled(report: str, reason: str | None, at: datetime) -> dict[str, Any]:
    return {"report": report, "reason": reason, "occurred_at": at.isoformat()}


def quoted(stage: str, allowed: bool, code: str | None, fee: int | None) -> dict[str, Any]:
    return {"stage": stage, "allowed": allowed, "code": code, "fee_minor": fee}


def callback(conn: Connection, push: Push) -> tuple[dict[str, str], bytes]:
    body: dict[str, Any] = {
        "tracking_no": push.tracking_no,
        "carrier_ref": push.task_no,
        "report": push.report,
        "occurred_at": push.at.isoformat(),
    }
    if push.reason:
        body["reason"] = push.reason
    raw = orjson.dumps(body)
    return signed_headers(conn, raw, push.sent_at), raw
