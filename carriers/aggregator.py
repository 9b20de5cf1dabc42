"""The aggregator protocol, modelled on kuaidi100's intercept API.

Form-encoded calls `method`, `key`, `t` (a millisecond timestamp), `param` (JSON) and
`sign` = uppercase MD5(param + t + key + secret), as kuaidi100's order APIs sign.
A request names an `interceptType` (RETURN_SEND_STATION | RETURN_SEND_ADDR |
MODIFY_ADDR, with `recManInfo` for a redirect) and a `callbackUrl` with a per-order
`salt`; results come back by callback to that URL, signed as uppercase
MD5(param + salt), and are retried when not acknowledged. The progress codes are the
ones a platform's carrier-facing callback uses (3 in progress, 1 success, 2 failed),
with the aggregator's further steps (4 cancelled, 5 returning, 6 return signed,
7 delivered to the new address). docs/carriers.md cites the facts.
"""

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

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
    json_of,
    meaning_in,
    minor_units,
    moment,
    post,
)

PATH = "/api/intercept"

STATUS: Mapping[str, Meaning] = {
    # progress: (CarrierReport value, None)
    "3": ("accepted", None),
    "1": ("confirmed", None),
    "4": ("released", None),
    "5": ("returning", None),
    "6": ("returned", None),
    "7": ("delivered_to_new_address", None),
    # failed, by its failCode: ("failed", FailureReason value)
    "2": ("failed", "other"),
    "21": ("failed", "too_late_out_for_delivery"),
    "22": ("failed", "already_signed"),
    # refused requests, by their failCode: ("rejected", RejectionCode value)
    "40001": ("rejected", "not_a_platform_waybill"),
    "40002": ("rejected", "conditions_not_met"),
    "40003": ("rejected", "not_picked_up"),
    "40004": ("rejected", "already_signed"),
    "40005": ("rejected", "already_intercepted_other_channel"),
    "40006": ("rejected", "already_intercepted_same_channel"),
}
"""The aggregator's codes to the domain's reports: the one table of this protocol."""

ACTIONS: Mapping[str, str] = {
    "return_to_sender": "RETURN_SEND_ADDR",
    "return_to_station": "RETURN_SEND_STATION",
    "redirect": "MODIFY_ADDR",
}
STAGES: Mapping[str, str] = {
    "0": "not_picked_up",
    "1": "in_transit",
    "2": "out_for_delivery",
    "3": "signed",
}
CODE_OF: Mapping[Meaning, str] = {meaning: code for code, meaning in STATUS.items()}
ACTION_OF: Mapping[str, str] = {wire: action for action, wire in ACTIONS.items()}
STAGE_CODE: Mapping[str, str] = {stage: code for code, stage in STAGES.items()}


def sign(param: str, t: str, key: str, secret: str) -> str:
    return hashlib.md5((param + t + key + secret).encode()).hexdigest().upper()


def salt(secret: str, order_id: str) -> str:
    """The per-order salt: derived, so verifying a callback needs nothing stored."""
    return hmac.new(secret.encode(), f"salt/{order_id}".encode(), hashlib.sha256).hexdigest()[:16]


def callback_sign(param: str, order_salt: str) -> str:
    return hashlib.md5((param + order_salt).encode()).hexdigest().upper()


def meaning(code: str) -> Meaning:
    return meaning_in(STATUS, code, "aggregator code")


def form(conn: Connection, method: str, param: dict[str, Any], t: str) -> dict[str, str]:
    text = orjson.dumps(param).decode()
    return {
        "method": method,
        "key": conn.key,
        "t": t,
        "param": text,
        "sign": sign(text, t, conn.key, conn.secret),
    }


class AggregatorAdapter:
    name = "aggregator"

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))

    def _call(
        self, client: httpx.Client, conn: Connection, method: str, param: dict[str, Any]
    ) -> dict[str, Any]:
        data = form(conn, method, param, str(self._clock_ms()))
        return json_of(post(client, conn, PATH, data=data))

    def request(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer:
        order = str(outbound.request_id)
        param: dict[str, Any] = {
            "kuaidicom": outbound.carrier.lower(),
            "kuaidinum": outbound.tracking_no,
            "orderId": order,
            "interceptType": ACTIONS[outbound.action],
            "reason": outbound.reason,
            "callbackUrl": conn.callback_url,
            "salt": salt(conn.secret, order),
        }
        if outbound.recipient:
            r = outbound.recipient
            where = "".join(
                str(r.get(k) or "") for k in ("province", "city", "district", "address")
            )
            param["recManInfo"] = {
                "name": r.get("name"),
                "mobile": r.get("phone"),
                "printAddr": where,
            }
        answer = self._call(client, conn, "intercept", param)
        data = answer.get("data") or {}
        if not answer.get("result"):
            report, code = meaning(str(data.get("failCode")))
            if report != "rejected":
                raise ProtocolError(f"a refused request with failCode {data.get('failCode')!r}")
            return Answer("rejected", code=code, message=answer.get("message"))
        if not data.get("taskId"):
            raise ProtocolError("an accepted request without a taskId")
        return Answer(
            "accepted", carrier_ref=str(data["taskId"]), occurred_at=moment(data.get("time"))
        )

    def cancel(self, client: httpx.Client, conn: Connection, outbound: Outbound) -> Answer:
        answer = self._call(
            client,
            conn,
            "cancelIntercept",
            {
                "kuaidicom": outbound.carrier.lower(),
                "kuaidinum": outbound.tracking_no,
                "orderId": str(outbound.request_id),
                "taskId": outbound.carrier_ref,
            },
        )
        if not answer.get("result"):
            raise ProtocolError(f"cancel refused: {answer.get('message')}")
        data = answer.get("data") or {}
        return Answer.cancelled(
            meaning(str(data.get("failCode") or data.get("status"))),
            outbound.carrier_ref,
            moment(data.get("time")),
        )

    def quote(
        self, client: httpx.Client, conn: Connection, carrier: str, tracking_no: str, action: str
    ) -> Quote:
        answer = self._call(
            client,
            conn,
            "interceptCheck",
            {
                "kuaidicom": carrier.lower(),
                "kuaidinum": tracking_no,
                "interceptType": ACTIONS[action],
            },
        )
        data = answer.get("data") or {}
        code = meaning(str(data["failCode"]))[1] if data.get("failCode") else None
        return Quote(
            stage=STAGES.get(str(data.get("stage")), "unknown"),
            allowed=bool(data.get("canIntercept")),
            code=code,
            fee_minor=minor_units(data.get("fee")),
        )

    def parse_callback(
        self, conn: Connection, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[Report]:
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        param = (fields.get("param") or [""])[0]
        sent = (fields.get("sign") or [""])[0]
        if not param or not sent:
            raise BadCallback("a callback needs the param and sign fields")
        try:
            data = orjson.loads(param)
        except orjson.JSONDecodeError:
            raise BadCallback("param is not JSON") from None
        order = data.get("orderId") if isinstance(data, dict) else None
        if not isinstance(order, str) or not order:
            raise BadCallback("param names no orderId")
        expected = callback_sign(param, salt(conn.secret, order))
        if not hmac.compare_digest(expected.encode(), sent.encode()):
            raise BadCallback("sign does not match param and the order's salt")
        code = str(data.get("failCode") or data.get("status"))
        if code not in STATUS:
            raise BadCallback(f"unknown status {code!r}")
        return [
            Report.meaning(
                STATUS[code],
                tracking_no=data.get("kuaidinum"),
                carrier_ref=data.get("taskId"),
                occurred_at=moment(data.get("time")),
            )
        ]

    def acknowledge(self) -> Reply:
        return Reply(200, orjson.dumps({"result": True, "returnCode": "200", "message": "成功"}))


# ---- the aggregator's side, as the simulator speaks it --------------------------


OPERATIONS: Mapping[str, str] = {
    "interceptCheck": "quote",
    "intercept": "request",
    "cancelIntercept": "cancel",
}
BUSY = {"result": False, "returnCode": "503", "message": "busy"}


def incoming(
    conn: Connection, path: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> Call:
    """A signed call to the aggregator, read; `BadCallback` when its sign does not verify."""
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    param, t, key = fields.get("param", ""), fields.get("t", ""), fields.get("key", "")
    if (
        path != PATH
        or key != conn.key
        or not hmac.compare_digest(
            sign(param, t, key, conn.secret).encode(), fields.get("sign", "").encode()
        )
    ):
        raise BadCallback("sign error")
    data = orjson.loads(param)
    method = fields.get("method", "")
    named = {
        "request_id": data.get("orderId"),
        "tracking_no": data.get("kuaidinum"),
        "action": ACTION_OF.get(data.get("interceptType", "")),
        "carrier_ref": data.get("taskId"),
    }
    return Call(OPERATIONS.get(method), method, named)


def refused(why: str) -> dict[str, Any]:
    return {"result": False, "returnCode": "401", "message": why}


def unknown(name: str) -> tuple[int, dict[str, Any]]:
    # The aggregator answers every call with 200 and says in the body what went wrong.
    return 200, {"result": False, "returnCode": "404", "message": f"no method {name}"}


def accepted(task_no: str, at: datetime) -> dict[str, Any]:
    return {
        "result": True,
        "returnCode": "200",
        "message": "提交成功",
        "data": {"taskId": task_no, "status": "3", "time": at.isoformat()},
    }


def rejected(code: str, message: str) -> dict[str, Any]:
    return {
        "result": False,
        "returnCode": "400",
        "message": message,
        "data": {"failCode": CODE_OF[("rejected", code)]},
    }


def cancelled(report: str, reason: str | None, at: datetime) -> dict[str, Any]:
    data = {"time": at.isoformat(), **_status(report, reason)}
    return {"result": True, "returnCode": "200", "data": data}


def quoted(stage: str, allowed: bool, code: str | None, fee: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "canIntercept": allowed,
        "stage": STAGE_CODE.get(stage, "1"),
        "fee": fee,
    }
    if code:
        data["failCode"] = CODE_OF[("rejected", code)]
    return {"result": True, "returnCode": "200", "data": data}


def callback(conn: Connection, push: Push) -> tuple[dict[str, str], bytes]:
    data: dict[str, Any] = {
        "orderId": push.request_id,
        "taskId": push.task_no,
        "kuaidicom": push.carrier.lower(),
        "kuaidinum": push.tracking_no,
        "time": push.at.isoformat(),
        **_status(push.report, push.reason),
    }
    param = orjson.dumps(data).decode()
    order_salt = salt(conn.secret, push.request_id)
    body = urlencode({"param": param, "sign": callback_sign(param, order_salt)})
    return {"content-type": "application/x-www-form-urlencoded"}, body.encode()


def _status(report: str, reason: str | None) -> dict[str, str]:
    """The status of a report; a failure is 2 with its failCode."""
    if report == "failed":
        return {"status": "2", "failCode": CODE_OF[("failed", reason)]}
    return {"status": CODE_OF[(report, None)]}
