"""The direct-carrier protocol, modelled on ZTO's and SF's open platforms.

JSON bodies, the carrier's company id in `x-companyId` and a digest of the body in
`x-dataDigest`: base64(MD5(body + secret)), the ZTO open platform's `data_digest`
(SF's `msgDigest` is built the same way over its message). Statuses are ZTO's words
(INTERCEPTING -> INTERCEPT_SUCCESS | INTERCEPT_FAIL | INTERCEPT_CANCEL, then being
returned -> finished). Callbacks come back signed the same way, with the carrier's
event time; they can repeat and arrive out of order. docs/carriers.md cites the facts.
"""

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

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
    meaning_in,
    minor_units,
    moment,
    post,
)

COMPANY_HEADER = "x-companyId"
DIGEST_HEADER = "x-dataDigest"

STATUS: Mapping[str, Meaning] = {
    # the intercept's progress: (CarrierReport value, None)
    "INTERCEPTING": ("accepted", None),
    "INTERCEPT_SUCCESS": ("confirmed", None),
    "INTERCEPT_CANCEL": ("released", None),
    "RETURNING": ("returning", None),
    "FINISHED": ("returned", None),
    "REDIRECT_SIGNED": ("delivered_to_new_address", None),
    # a failure, by the carrier's fail reason: ("failed", FailureReason value)
    "INTERCEPT_FAIL": ("failed", "other"),
    "FAIL_OUT_FOR_DELIVERY": ("failed", "too_late_out_for_delivery"),
    "FAIL_SIGNED": ("failed", "already_signed"),
    # a refused request: ("rejected", RejectionCode value)
    "NOT_PLATFORM_WAYBILL": ("rejected", "not_a_platform_waybill"),
    "CONDITION_NOT_MET": ("rejected", "conditions_not_met"),
    "NOT_PICKED_UP": ("rejected", "not_picked_up"),
    "ALREADY_SIGNED": ("rejected", "already_signed"),
    "INTERCEPTED_OTHER_CHANNEL": ("rejected", "already_intercepted_other_channel"),
    "INTERCEPTED_SAME_CHANNEL": ("rejected", "already_intercepted_same_channel"),
}
"""The carrier's codes to the domain's reports: the one table of this protocol."""

ACTIONS: Mapping[str, str] = {
    "return_to_sender": "RETURN_SENDER",
    "return_to_station": "RETURN_STATION",
    "redirect": "REDIRECT",
}
STAGES: Mapping[str, str] = {
    "NOT_PICKED_UP": "not_picked_up",
    "IN_TRANSIT": "in_transit",
    "OUT_FOR_DELIVERY": "out_for_delivery",
    "SIGNED": "signed",
}

CODE_OF: Mapping[Meaning, str] = {meaning: code for code, meaning in STATUS.items()}
"""The carrier's code for a report: the table read backwards, for the simulator."""
ACTION_OF: Mapping[str, str] = {wire: action for action, wire in ACTIONS.items()}
STAGE_CODE: Mapping[str, str] = {stage: code for code, stage in STAGES.items()}


def digest(body: bytes, secret: str) -> str:
    return base64.b64encode(hashlib.md5(body + secret.encode()).digest()).decode()


def signed_headers(conn: Connection, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        COMPANY_HEADER: conn.key,
        DIGEST_HEADER: digest(body, conn.secret),
    }


def verified(conn: Connection, headers: Mapping[str, str], body: bytes) -> bool:
    sent = header(headers, DIGEST_HEADER)
    company = header(headers, COMPANY_HEADER)
    if not sent or company != conn.key:
        return False
    return hmac.compare_digest(sent.encode(), digest(body, conn.secret).encode())


def meaning(code: str) -> Meaning:
    return meaning_in(STATUS, code, "carrier status")


class DirectAdapter:
    name = "direct"

    def _call(
        self, client: httpx.Client, conn: Connection, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        raw = orjson.dumps(body)
        return json_of(post(client, conn, path, content=raw, headers=signed_headers(conn, raw)))

    def request(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer:
        answer = self._call(
            client,
            conn,
            "/intercept/create",
            {
                "requestId": str(outbound.request_id),
                "billCode": outbound.tracking_no,
                "interceptType": ACTIONS[outbound.action],
                "receiveInfo": dict(outbound.recipient) if outbound.recipient else None,
                "reason": outbound.reason,
            },
        )
        if not answer.get("status"):
            report, code = meaning(str(answer.get("statusCode")))
            if report != "rejected":
                raise ProtocolError(f"a refused request with status {answer.get('statusCode')!r}")
            return Answer("rejected", code=code, message=answer.get("message"))
        result = answer.get("result") or {}
        task = result.get("taskNo")
        if not task:
            raise ProtocolError("an accepted request without a taskNo")
        return Answer(
            "accepted", carrier_ref=str(task), occurred_at=moment(result.get("eventTime"))
        )

    def cancel(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer:
        answer = self._call(
            client,
            conn,
            "/intercept/cancel",
            {
                "requestId": str(outbound.request_id),
                "billCode": outbound.tracking_no,
                "taskNo": outbound.carrier_ref,
            },
        )
        if not answer.get("status"):
            raise ProtocolError(f"cancel refused: {answer.get('statusCode')}")
        result = answer.get("result") or {}
        return Answer.cancelled(
            meaning(str(result.get("interceptStatus"))),
            outbound.carrier_ref,
            moment(result.get("eventTime")),
        )

    def quote(
        self, client: httpx.Client, conn: Connection, carrier: str, tracking_no: str, action: str
    ) -> Quote:
        answer = self._call(
            client,
            conn,
            "/intercept/check",
            {"billCode": tracking_no, "interceptType": ACTIONS[action]},
        )
        result = answer.get("result") or {}
        stage = STAGES.get(str(result.get("stage")), "unknown")
        code = None
        if result.get("reasonCode"):
            _, code = meaning(str(result["reasonCode"]))
        return Quote(
            stage=stage,
            allowed=bool(result.get("canIntercept")),
            code=code,
            fee_minor=minor_units(result.get("fee")),
            message=result.get("message"),
        )

    def parse_callback(
        self, conn: Connection, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[Report]:
        if not verified(conn, headers, body):
            raise BadCallback(f"the {DIGEST_HEADER} does not match the body and secret")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadCallback("the body is not JSON") from None
        status = str(data.get("interceptStatus"))
        if status not in STATUS:
            raise BadCallback(f"unknown interceptStatus {status!r}")
        said = STATUS[status]
        if said[0] == "failed" and data.get("failReason"):
            said = STATUS.get(f"FAIL_{data['failReason']}", said)
        # The requestId is the gateway's request id, not the intercept's: the intercept is
        # found by waybill or task number instead.
        return [
            Report.meaning(
                said,
                tracking_no=data.get("billCode"),
                carrier_ref=data.get("taskNo"),
                occurred_at=moment(data.get("eventTime")),
            )
        ]

    def acknowledge(self) -> Reply:
        return Reply(200, orjson.dumps({"status": True, "statusCode": "SUCCESS"}))


# ---- the carrier's side, as the simulator speaks it -----------------------------


OPERATIONS: Mapping[str, str] = {
    "/intercept/check": "quote",
    "/intercept/create": "request",
    "/intercept/cancel": "cancel",
}
BUSY = {"status": False, "statusCode": "BUSY"}


def incoming(
    conn: Connection, path: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> Call:
    """A call to the carrier, read; `BadCallback` when its digest does not verify."""
    if not verified(conn, headers, body):
        raise BadCallback("bad digest")
    data = orjson.loads(body)
    fields = {
        "request_id": data.get("requestId"),
        "tracking_no": data.get("billCode"),
        "action": ACTION_OF.get(data.get("interceptType", "")),
        "carrier_ref": data.get("taskNo"),
        "recipient": data.get("receiveInfo"),
    }
    return Call(OPERATIONS.get(path), path, fields)


def refused(why: str) -> dict[str, Any]:
    return {"status": False, "statusCode": "SIGN_ERROR", "message": why}


def unknown(name: str) -> tuple[int, dict[str, Any]]:
    return 404, {"status": False, "statusCode": "NOT_FOUND"}


def accepted(task_no: str, at: datetime) -> dict[str, Any]:
    return {
        "status": True,
        "statusCode": "SUCCESS",
        "result": {
            "taskNo": task_no,
            "interceptStatus": "INTERCEPTING",
            "eventTime": at.isoformat(),
        },
    }


def rejected(code: str, message: str) -> dict[str, Any]:
    return {"status": False, "statusCode": CODE_OF[("rejected", code)], "message": message}


def cancelled(report: str, reason: str | None, at: datetime) -> dict[str, Any]:
    return {"status": True, "result": {**_status(report, reason), "eventTime": at.isoformat()}}


def quoted(stage: str, allowed: bool, code: str | None, fee: int | None) -> dict[str, Any]:
    return {
        "status": True,
        "result": {
            "stage": STAGE_CODE.get(stage, "IN_TRANSIT"),
            "canIntercept": allowed,
            "reasonCode": CODE_OF[("rejected", code)] if code else None,
            "fee": fee,
        },
    }


def callback(conn: Connection, push: Push) -> tuple[dict[str, str], bytes]:
    body: dict[str, Any] = {
        "billCode": push.tracking_no,
        "taskNo": push.task_no,
        "requestId": push.request_id,
        "eventTime": push.at.isoformat(),
        **_status(push.report, push.reason),
    }
    raw = orjson.dumps(body)
    return signed_headers(conn, raw), raw


def _status(report: str, reason: str | None) -> dict[str, str]:
    """The interceptStatus of a report; a failure is INTERCEPT_FAIL with its failReason (the
    table's FAIL_ code without the prefix), unless it is the plain failure."""
    if report != "failed":
        return {"interceptStatus": CODE_OF[(report, None)]}
    code = CODE_OF[("failed", reason)]
    if code == "INTERCEPT_FAIL":
        return {"interceptStatus": code}
    return {"interceptStatus": "INTERCEPT_FAIL", "failReason": code.removeprefix("FAIL_")}
