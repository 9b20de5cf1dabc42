"""The limits the engine is measured against, built from the bare libraries.

`RawApplication` is a minimal eventsourcing application with the library's own
aggregates, mapper and JSON transcoder, on the same storage as the engine: it
makes the same writes (a request: the intercept and its parcel in one
transaction; a cancel: load, one event, save) and decides nothing else.
"""

from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class RawIntercept(Aggregate):
    @event("Requested")
    def __init__(
        self,
        merchant_id: str,
        order_id: str,
        tracking_no: str,
        carrier: str,
        amount_minor: int,
        currency: str,
        action: str,
        request_reason: str,
        after_sale_status: str,
        actor: str,
        occurred_at: str,
        key: str,
    ) -> None:
        self.merchant_id = merchant_id
        self.order_id = order_id
        self.tracking_no = tracking_no
        self.carrier = carrier
        self.amount_minor = amount_minor
        self.status = "requested"

    @event("Cancelled")
    def cancel(self, reason: str, actor: str, occurred_at: str) -> None:
        self.status = "cancelled"


class RawParcel(Aggregate):
    @event("Opened")
    def __init__(self, carrier: str, tracking_no: str, intercept_id: str) -> None:
        self.intercept_ids = [intercept_id]


class RawApplication(Application[UUID]):
    name = "raw"

    def _new(self, command) -> list[Aggregate]:
        intercept = RawIntercept(
            merchant_id=command.merchant_id,
            order_id=command.order_id,
            tracking_no=command.tracking_no,
            carrier=str(command.carrier),
            amount_minor=command.amount_minor,
            currency=command.currency,
            action=str(command.action),
            request_reason=command.request_reason,
            after_sale_status=str(command.after_sale_status),
            actor=command.actor,
            occurred_at=command.occurred_at.isoformat(),
            key=command.key,
        )
        parcel = RawParcel(
            carrier=str(command.carrier),
            tracking_no=command.tracking_no,
            intercept_id=str(intercept.id),
        )
        return [intercept, parcel]

    def request(self, command) -> UUID:
        intercept, parcel = self._new(command)
        self.save(intercept, parcel)
        return intercept.id

    def request_many(self, commands) -> list[UUID]:
        aggregates = [a for c in commands for a in self._new(c)]
        self.save(*aggregates)
        return [a.id for a in aggregates[::2]]

    def _cancelled(self, intercept_id: UUID) -> RawIntercept:
        intercept: RawIntercept = self.repository.get(intercept_id)
        intercept.cancel(reason="buyer_changed_mind", actor="staff", occurred_at="2026-11-20")
        return intercept

    def cancel(self, intercept_id: UUID) -> None:
        self.save(self._cancelled(intercept_id))

    def cancel_many(self, intercept_ids) -> None:
        self.save(*[self._cancelled(i) for i in intercept_ids])
