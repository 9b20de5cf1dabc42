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
    Connection,
    Outbound,
    ProtocolError,
    Quote,
    Reply,
    Report,
    json_of,
    moment,
    post,
)

COMPANY_HEADER = "x-companyId"
DIGEST_HEADER = "x-dataDigest"

STATUS: Mapping[str, tuple[str, str | None]] = {
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

CODE_OF: Mapping[tuple[str, str | None], str] = {meaning: code for code, meaning in STATUS.items()}
"""The carrier's code for a report: the table read backwards, for the simulator."""


def digest(body: bytes, secret: str) -> str:
    return base64.b64encode(hashlib.md5(body + secret.encode()).digest()).decode()


def signed_headers(conn: Connection, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        COMPANY_HEADER: conn.key,
        DIGEST_HEADER: digest(body, conn.secret),
    }


def verified(conn: Connection, headers: Mapping[str, str], body: bytes) -> bool:
    sent = _header(headers, DIGEST_HEADER)
    company = _header(headers, COMPANY_HEADER)
    if not sent or company != conn.key:
        return False
    return hmac.compare_digest(sent.encode(), digest(body, conn.secret).encode())


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def meaning(code: str) -> tuple[str, str | None]:
    try:
        return STATUS[code]
    except KeyError:
        raise ProtocolError(f"unknown carrier status {code!r}") from None


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
        report, detail = meaning(str(result.get("interceptStatus")))
        return Answer(
            report,
            carrier_ref=outbound.carrier_ref,
            reason=detail if report == "failed" else None,
            occurred_at=moment(result.get("eventTime")),
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
        fee = result.get("fee")
        return Quote(
            stage=stage,
            allowed=bool(result.get("canIntercept")),
            code=code,
            fee_minor=fee if isinstance(fee, int) and not isinstance(fee, bool) else None,
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
        report, detail = STATUS[status]
        if report == "failed" and data.get("failReason"):
            report, detail = STATUS.get(f"FAIL_{data['failReason']}", (report, detail))
        # The requestId is the gateway's request id, not the intercept's: the intercept is
        # found by waybill or task number instead.
        return [
            Report(
                report=report,
                tracking_no=data.get("billCode"),
                carrier_ref=data.get("taskNo"),
                reason=detail if report == "failed" else None,
                code=detail if report == "rejected" else None,
                occurred_at=moment(data.get("eventTime")),
            )
        ]

    def acknowledge(self) -> Reply:
        return Reply(200, orjson.dumps({"status": True, "statusCode": "SUCCESS"}))


# ---- the carrier's side, as the simulator speaks it -----------------------------


def read(body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    return {
        "request_id": data.get("requestId"),
        "tracking_no": data.get("billCode"),
        "action": {v: k for k, v in ACTIONS.items()}.get(data.get("interceptType", "")),
        "carrier_ref": data.get("taskNo"),
        "recipient": data.get("receiveInfo"),
    }


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
    code = CODE_OF[(report, reason if report == "failed" else None)]
    status, fail = (
        ("INTERCEPT_FAIL", code.removeprefix("FAIL_")) if report == "failed" else (code, None)
    )
    result = {"interceptStatus": status, "eventTime": at.isoformat()}
    if fail and fail != "INTERCEPT_FAIL":
        result["failReason"] = fail
    return {"status": True, "result": result}


def quoted(stage: str, allowed: bool, code: str | None, fee: int | None) -> dict[str, Any]:
    stage_code = {v: k for k, v in STAGES.items()}.get(stage, "IN_TRANSIT")
    return {
        "status": True,
        "result": {
            "stage": stage_code,
            "canIntercept": allowed,
            "reasonCode": CODE_OF[("rejected", code)] if code else None,
            "fee": fee,
        },
    }


def callback(
    conn: Connection,
    report: str,
    reason: str | None,
    tracking_no: str,
    task_no: str,
    request_id: str,
    at: datetime,
) -> tuple[dict[str, str], bytes]:
    body: dict[str, Any] = {
        "billCode": tracking_no,
        "taskNo": task_no,
        "requestId": request_id,
        "eventTime": at.isoformat(),
    }
    if report == "failed":
        body["interceptStatus"] = "INTERCEPT_FAIL"
        code = CODE_OF[("failed", reason)]
        if code != "INTERCEPT_FAIL":
            body["failReason"] = code.removeprefix("FAIL_")
    else:
        body["interceptStatus"] = CODE_OF[(report, None)]
    raw = orjson.dumps(body)
    return signed_headers(conn, raw), raw
