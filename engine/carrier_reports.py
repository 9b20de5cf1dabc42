"""Carriers' answers and callbacks, in the protocols' words, as the engine's commands.

The adapters (carriers/) answer in the domain's report words; this is the one place
that turns them into commands, each under an idempotency key derived from what it
records, so a resent request's answer or a repeated callback records nothing new.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from carriers.protocol import Answer, Report
from domain.commands import Command, ReportCarrierOutcome
from domain.events import Requested
from domain.vocabulary import CarrierReport, FailureReason


def request_fields(event: Requested) -> dict[str, Any]:
    """What of a request the carrier is sent (besides the parcel it names)."""
    fields: dict[str, Any] = {"action": event.action.value, "reason": event.request_reason}
    if event.new_address:
        fields["recipient"] = {"address": event.new_address}
    return fields


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
    report = CarrierReport(answer.report) if answer.report != "rejected" else None
    reason = answer.reason
    if report is None:
        report, reason = CarrierReport.FAILED, FailureReason.CARRIER_REJECTED.value
    return ReportCarrierOutcome(
        intercept_id=intercept_id,
        carrier=carrier,  # type: ignore[arg-type]
        report=report,
        carrier_ref=answer.carrier_ref,
        reason=FailureReason(reason or "other") if report is CarrierReport.FAILED else None,
        key=f"carrier-{action}-{answer.report}-{request_id}",
        actor=actor,
        occurred_at=answer.occurred_at or now,
    )


def unreachable(
    intercept_id: UUID, request_id: UUID, attempts: int, error: str, actor: str, now: datetime
) -> Command:
    raise NotImplementedError


def from_callback(
    intercept_id: UUID, carrier: str, report: Report, actor: str, now: datetime
) -> Command:
    """The command recording one report a carrier's callback carried."""
    word = CarrierReport(report.report)
    return ReportCarrierOutcome(
        intercept_id=intercept_id,
        carrier=carrier,  # type: ignore[arg-type]
        report=word,
        carrier_ref=report.carrier_ref,
        reason=FailureReason(report.reason or "other") if word is CarrierReport.FAILED else None,
        actor=actor,
        occurred_at=report.occurred_at or now,
    )
