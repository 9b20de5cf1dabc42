"""The webhook dispatcher, and what both front doors do with endpoints and deliveries.

Two steps, each its own transaction. The fan-out reads intercept events after the
dispatcher's position, as the relay publishes them (the same bytes: `engine.outgoing`),
and writes one delivery per subscribed endpoint of the event's merchant, with the new
position. The delivery step posts each due delivery, the oldest pending one of its
endpoint and intercept first (in order per intercept), signed the Standard Webhooks way
under a webhook-id fixed when the delivery was written (stable across retries).

A failed attempt is retried after `retry_base * 2**(attempts - 1)` seconds, at most six
hours apart; an endpoint whose oldest pending delivery has failed for `horizon` (24 h)
is disabled and says why in `webhooks list`. Its deliveries wait: `redeliver` enables
it again.
"""

import base64
import logging
import secrets
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid5

import orjson
from pydantic import TypeAdapter, ValidationError
from standardwebhooks import Webhook

from domain.envelope import INTERCEPT_EVENT_TYPES
from domain.ids import NAMESPACE
from domain.types import Code
from engine.outgoing import reader
from engine.webhooks.sender import Refused, check_url, post
from engine.webhooks.store import DISPATCHER, Endpoint, WebhookStore
from projections.timefmt import stamp

log = logging.getLogger(__name__)

MAX_DELAY = timedelta(hours=6)
USER_AGENT = "intercept-webhooks/1"
Clock = Callable[[], datetime]


def webhook_id(endpoint_id: str, event_id: str) -> str:
    """One event's webhook-id at one endpoint: the same on every attempt and redelivery."""
    return "msg_" + uuid5(NAMESPACE, f"webhook/{endpoint_id}/{event_id}").hex


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers: the signature is HMAC-SHA256 over id.timestamp.body."""
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
    }


def delay(attempts: int, base: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt: doubling, at most six hours."""
    return min(timedelta(seconds=base * 2 ** min(attempts - 1, 30)), MAX_DELAY)


class Dispatcher:
    def __init__(
        self, app: Any, store: WebhookStore, settings: Any, clock: Clock, batch: int = 500
    ) -> None:
        self.read = reader(app)
        self.store, self.settings, self.clock, self.batch = store, settings, clock, batch

    def fan_out_once(self) -> int:
        after = self.store.positions.get(DISPATCHER)
        last, records = self.read(after, self.batch)
        if last == after:
            return 0
        by_merchant: dict[str, list[Endpoint]] = {}
        for endpoint in self.store.subscribed():
            by_merchant.setdefault(endpoint.merchant_id, []).append(endpoint)
        now = stamp(self.clock())
        deliveries = []
        for record in records:
            fields = orjson.loads(record.value)
            for endpoint in by_merchant.get(fields["merchant_id"], ()):
                if endpoint.wants(fields["event_type"], record.position):
                    deliveries.append(
                        {
                            "delivery_id": webhook_id(endpoint.endpoint_id, record.event_id),
                            "endpoint_id": endpoint.endpoint_id,
                            "merchant_id": endpoint.merchant_id,
                            "intercept_id": fields["intercept_id"],
                            "event_id": record.event_id,
                            "event_type": fields["event_type"],
                            "position": record.position,
                            "body": record.value.decode(),
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                    )
        self.store.fan_out(deliveries, last)
        return len(records)

    def deliver_once(self, limit: int = 50) -> int:
        due = self.store.due(stamp(self.clock()), limit)
        for delivery in due:
            self._attempt(delivery)
        return len(due)

    def run_once(self) -> int:
        return self.fan_out_once() + self.deliver_once()

    def _attempt(self, d: dict[str, Any]) -> None:
        at = self.clock()
        headers = signed_headers(d["secret"], d["delivery_id"], at, d["body"])
        answer = post(
            d["url"],
            d["body"].encode(),
            headers,
            timeout=self.settings.webhooks_timeout,
            allow_private=self.settings.webhooks_allow_private,
        )
        now = stamp(self.clock())
        if answer.ok:
            self.store.delivered(d["delivery_id"], now, answer.status or 0)
            return
        error = answer.error or "failed"
        first = d["first_attempt_at"] or now
        next_at = stamp(self.clock() + delay(d["attempts"] + 1, self.settings.webhooks_retry_base))
        self.store.failed(d["delivery_id"], now, answer.status, error, next_at)
        failing = datetime.fromisoformat(now) - datetime.fromisoformat(first)
        if failing.total_seconds() >= self.settings.webhooks_horizon:
            reason = f"failing since {first}: {error}"
            self.store.disable(d["endpoint_id"], now, reason)
            log.warning("webhook endpoint %s disabled: %s", d["endpoint_id"], reason)
        else:
            log.info("webhook %s to endpoint %s: %s", d["delivery_id"], d["endpoint_id"], error)


# ---- what the front doors do ------------------------------------------------------


class BadWebhook(ValueError):
    """Input for an endpoint that cannot be taken; the message names the field and rule."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnknownWebhook(LookupError):
    """No such endpoint or delivery (or one the caller may not see)."""


_CODE = TypeAdapter(Code)


def add_endpoint(
    store: WebhookStore,
    max_position: int,
    merchant_id: str,
    url: str,
    events: Iterable[str],
    now: datetime,
    allow_private: bool,
) -> dict[str, Any]:
    """Register an endpoint; the answer carries its signing secret, shown only this once."""
    try:
        _CODE.validate_python(merchant_id)
    except ValidationError:
        raise BadWebhook("merchant", f"{merchant_id!r} is not a merchant id") from None
    if len(url) > 2000:
        raise BadWebhook("url", "longer than 2000 characters")
    try:
        _, host, _, _ = check_url(url)
    except Refused as refused:
        raise BadWebhook("url", str(refused)) from None
    _refuse_private_literal(host, allow_private)
    wanted = sorted({e.strip() for e in events if e.strip()})
    unknown = [e for e in wanted if e not in INTERCEPT_EVENT_TYPES]
    if unknown:
        known = ", ".join(INTERCEPT_EVENT_TYPES)
        raise BadWebhook("events", f"unknown event type {', '.join(unknown)} (known: {known})")
    endpoint_id = "ep_" + secrets.token_hex(8)
    secret = new_secret()
    store.add_endpoint(
        {
            "endpoint_id": endpoint_id,
            "merchant_id": merchant_id,
            "url": url,
            "events": ",".join(wanted),
            "secret": secret,
            "from_position": max_position,
            "created_at": stamp(now),
        }
    )
    return {**describe(store.endpoint(endpoint_id) or {}), "secret": secret}


def _refuse_private_literal(host: str, allow_private: bool) -> None:
    import ipaddress

    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: checked when it is resolved, at every attempt
    if not allow_private and not ip.is_global:
        raise BadWebhook("url", f"{ip} is a private, loopback, link-local or reserved address")


def describe(row: dict[str, Any]) -> dict[str, Any]:
    """An endpoint as listed: never its secret."""
    return {
        "endpoint_id": row["endpoint_id"],
        "merchant_id": row["merchant_id"],
        "url": row["url"],
        "events": [e for e in row["events"].split(",") if e],
        "status": "removed"
        if row["removed_at"]
        else ("disabled" if row["disabled_at"] else "enabled"),
        "disabled_reason": row["disabled_reason"],
        "created_at": row["created_at"],
    }


def list_endpoints(store: WebhookStore, merchant_id: str | None) -> list[dict[str, Any]]:
    return [describe(r) for r in store.endpoints(merchant_id)]


def visible_endpoint(
    store: WebhookStore, endpoint_id: str, sees: Callable[[str], bool]
) -> dict[str, Any]:
    row = store.endpoint(endpoint_id)
    if row is None or row["removed_at"] or not sees(row["merchant_id"]):
        raise UnknownWebhook(f"no webhook endpoint {endpoint_id}")
    return row


def remove_endpoint(
    store: WebhookStore, endpoint_id: str, now: datetime, sees: Callable[[str], bool]
) -> dict[str, Any]:
    visible_endpoint(store, endpoint_id, sees)
    store.remove_endpoint(endpoint_id, stamp(now))
    return describe(store.endpoint(endpoint_id) or {})


def list_deliveries(
    store: WebhookStore, merchant_id: str | None, endpoint_id: str | None, limit: int = 100
) -> list[dict[str, Any]]:
    return store.deliveries(merchant_id, endpoint_id, limit)


def redeliver(
    store: WebhookStore, delivery_id: str, now: datetime, sees: Callable[[str], bool]
) -> dict[str, Any]:
    found = store.delivery(delivery_id)
    if found is None or not sees(found["merchant_id"]):
        raise UnknownWebhook(f"no webhook delivery {delivery_id}")
    store.redeliver(delivery_id, stamp(now))
    return store.delivery(delivery_id) or {}
