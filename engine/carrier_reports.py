"""Carriers' answers and callbacks, in the protocols' words, as the engine's commands.

The adapters (carriers/) answer in the domain's words (report, rejection code, failure
reason, as their values); this is the one place that turns them into commands. The
gateway's commands carry an idempotency key derived from the carrier request id, so a
resent request's answer records nothing new; a repeated callback is the domain's to
recognise (a repeated report is a duplicate, one that moves backwards is stale).
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from carriers.protocol import Answer, Report
from domain.commands import Command, RecordCarrierUnreachable, ReportCarrierOutcome
from domain.events import Requested
from domain.vocabulary import CarrierReport, FailureReason, RejectionCode


def request_fields(event: Requested) -> dict[str, Any]:
    """What of a request the carrier is sent besides the parcel: the action, the reason and,
    for a redirect, the recipient (personal data: kept in the gateway's row only while it is
    to be sent)."""
    fields: dict[str, Any] = {"action": event.action.value, "reason": event.request_reason}
    if event.recipient is not None:
        fields["recipient"] = event.recipient.model_dump()
    return fields


def _report(
    intercept_id: UUID,
    carrier: str,
    report: str,
    carrier_ref: str | None,
    reason: str | None,
    code: str | None,
    message: str | None,
    key: str | None,
    actor: str,
    occurred_at: datetime,
) -> Command:
    word = CarrierReport(report)
    return ReportCarrierOutcome(
        intercept_id=intercept_id,
        carrier=carrier,
        report=word,
        carrier_ref=carrier_ref,
        reason=FailureReason(reason or "other") if word is CarrierReport.FAILED else None,
        # A rejection the carrier gave no code for is one whose conditions were not met.
        code=RejectionCode(code or "conditions_not_met")
        if word is CarrierReport.REJECTED
        else None,
        message=(message or None) if word is CarrierReport.REJECTED else None,
        key=key,
        actor=actor,
        occurred_at=occurred_at,
    )


def from_answer(
    intercept_id: UUID,
    carrier: str,
    action: str,
    request_id: UUID,
    answer: Answer,
    actor: str,
    now: datetime,
) -> Command:
    """The command recording a carrier's synchronous answer to a request or a cancel."""
    return _report(
        intercept_id,
        carrier,
        answer.report,
        answer.carrier_ref,
        answer.reason,
        answer.code,
        answer.message,
        f"carrier-{action}-{request_id}",
        actor,
        answer.occurred_at or now,
    )


def unreachable(
    intercept_id: UUID, request_id: UUID, attempts: int, error: str, actor: str, now: datetime
) -> Command:
    return RecordCarrierUnreachable(
        intercept_id=intercept_id,
        attempts=attempts,
        last_error=error[:1000],
        key=f"carrier-unreachable-{request_id}",
        actor=actor,
        occurred_at=now,
    )


def from_callback(
    intercept_id: UUID, carrier: str, report: Report, actor: str, now: datetime
) -> Command:
    """The command recording one report a carrier's callback carried."""
    return _report(
        intercept_id,
        carrier,
        report.report,
        report.carrier_ref,
        report.reason,
        report.code,
        None,
        None,
        actor,
        report.occurred_at or now,
    )
