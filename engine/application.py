"""The application service: loads aggregates, asks the domain to decide, records the events."""

import time
from datetime import datetime
from typing import Callable
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain import intercept as intercepts
from domain import parcel as parcels
from domain import policy as policies
from domain.commands import (
    AttachEvidence,
    CancelIntercept,
    ChangeAfterSaleStatus,
    ChargeFee,
    InterceptCommand,
    ReportCarrierOutcome,
    RequestIntercept,
    SetPolicy,
)
from domain.decision import Decision
from domain.errors import ConcurrencyConflict, UnknownIntercept
from domain.ids import intercept_id, parcel_id, policy_id
from domain.intercept import InterceptRequest
from domain.parcel import Parcel
from domain.policy import InterceptPolicy
from engine.mapper import EventMapper

Clock = Callable[[], datetime]

_HANDLERS = {
    CancelIntercept: intercepts.cancel,
    ReportCarrierOutcome: intercepts.report,
    ChargeFee: intercepts.charge_fee,
    AttachEvidence: intercepts.attach_evidence,
    ChangeAfterSaleStatus: intercepts.change_after_sale_status,
}


class InterceptApplication(Application[UUID]):
    name = "intercept"

    def __init__(self, env: dict[str, str], *, clock: Clock, max_retries: int = 8) -> None:
        super().__init__(env)
        self.clock = clock
        self.max_retries = max_retries

    def construct_mapper(self) -> EventMapper:
        return EventMapper()

    # ---- commands -------------------------------------------------------

    def set_policy(self, command: SetPolicy) -> Decision[InterceptPolicy | None]:
        pid = policy_id(command.merchant_id)
        return self._retrying(
            lambda: policies.set_policy(
                self.policy(command.merchant_id), command, policy_id=pid, now=self.clock()
            )
        )

    def request(self, command: RequestIntercept) -> Decision[InterceptRequest]:
        """Record a request; the command needs its idempotency key (the CLI makes one)."""
        if command.key is None:
            raise ValueError("a request needs an idempotency key")
        iid = intercept_id(command.merchant_id, command.key)
        return self._retrying(lambda: self._decide_request(command, iid))

    def _decide_request(self, command: RequestIntercept, iid: UUID) -> Decision:
        existing = self._get(iid, intercepts.project_intercept)
        if existing is not None:
            return intercepts.request(
                command, intercept_id=iid, existing=existing, policy=None,  # type: ignore[arg-type]
                parcel_history=(), now=self.clock(),
            )
        policy = policies.require_policy(self.policy(command.merchant_id), command.merchant_id)
        pid = parcel_id(command.carrier, command.tracking_no)
        parcel: Parcel | None = self._get(pid, parcels.project_parcel)
        history = [self.intercept(i) for i in parcel.intercept_ids] if parcel else []
        now = self.clock()
        decision = intercepts.request(
            command, intercept_id=iid, existing=None, policy=policy,
            parcel_history=history, now=now,
        )
        opened = parcels.open_intercept(
            parcel, parcel_id=pid, carrier=command.carrier,
            tracking_no=command.tracking_no, intercept_id=iid, now=now,
        )
        return Decision((*decision.events, opened), decision.outcome, decision.state)

    def handle(self, command: InterceptCommand) -> Decision[InterceptRequest]:
        """Cancel, carrier report, fee, evidence or after-sale change on one intercept."""
        decide = _HANDLERS[type(command)]
        return self._retrying(
            lambda: decide(self.intercept(command.intercept_id), command, self.clock())
        )

    # ---- queries on the write side ---------------------------------------

    def intercept(self, iid: UUID) -> InterceptRequest:
        state = self._get(iid, intercepts.project_intercept)
        if state is None:
            raise UnknownIntercept(f"no intercept with id {iid}")
        return state

    def policy(self, merchant_id: str) -> InterceptPolicy | None:
        return self._get(policy_id(merchant_id), policies.project_policy)

    # ---- plumbing ---------------------------------------------------------

    def _get(self, aggregate_id: UUID, projector):
        try:
            return self.repository.get(aggregate_id, projector_func=projector)
        except AggregateNotFoundError:
            return None

    def _retrying(self, decide: Callable[[], Decision]) -> Decision:
        """Decide and record; on a lost optimistic-concurrency race, decide again."""
        for attempt in range(self.max_retries):
            decision = decide()
            if not decision.events:
                return decision
            try:
                self.save(*decision.events)
            except IntegrityError:
                time.sleep(min(0.002 * 2**attempt, 0.2))
                continue
            return decision
        raise ConcurrencyConflict(
            f"the command lost {self.max_retries} races with concurrent writers and was "
            "not recorded; try again"
        )
