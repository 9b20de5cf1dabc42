"""The commands that change an intercept: request, cancel, carrier, fee, evidence, after-sale."""

import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import typer
from rich.console import Console

from domain.commands import (
    AttachEvidence,
    ChangeAfterSaleStatus,
    ChargeFee,
    ReportCarrierOutcome,
    RequestIntercept,
)
from domain.vocabulary import (
    Action,
    AfterSaleStatus,
    CancelReason,
    CarrierReport,
    EvidenceKind,
    FailureReason,
    FeeKind,
    ParcelStage,
    Payer,
    RejectionCode,
)
from engine import usecases
from engine.carrier_catalog import CarrierRefused
from engine.cli import context, parse
from engine.cli.output import conflict, console, emit_json, errors, line, money
from engine.cli.output import status as status_text
from engine.composition import evidence_store, system_clock
from engine.evidence_store import TooLarge


def _id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an intercept id") from None


_OUTCOMES = {
    "recorded": "recorded",
    "duplicate": "already recorded with this key: nothing new recorded",
    "already_cancelled": "already cancelled: nothing new recorded",
    "stale": "older than what is known: kept in the history, status unchanged",
    "unchanged": "nothing changed: nothing new recorded",
}


def _result(decision, json: bool, what: str, extra: dict | None = None) -> None:
    """The intercept after a command, saying what the command was and what it did."""
    result = {**usecases.result(decision), **(extra or {})}
    if json:
        return emit_json(result)
    said = _OUTCOMES.get(result["outcome"], result["outcome"])
    parts: list = [
        f"{what} for {result['intercept_id']}: {said}; intercept is now",
        status_text(result["status"]),
    ]
    if result["conflicts"]:
        parts += ["conflict:", conflict(",".join(result["conflicts"]))]
    console.print(line(*parts, sep=" "))


def _risk_line(risk: dict) -> str:
    said = f"from {risk['cases']} decided case(s) of {risk['carrier']} {risk['action']} "
    said += f"({risk['parcel_stage']}"
    if "since_pickup" in risk["based_on"]:
        said += f", {risk['since_pickup']} after pickup"
    said += "): "
    if not risk["enough_history"]:
        return "risk " + said + "not enough history yet"
    fee = risk["likely_fee_minor"]
    return (
        "risk "
        + said
        + f"{risk['success_probability'] * 100:.0f}% succeeded, likely fee "
        + f"{fee // 100}.{fee % 100:02d}"
    )


def request(
    merchant: str = typer.Option(..., help="Merchant id."),
    order: str = typer.Option(..., help="Order id."),
    tracking: str = typer.Option(..., help="Tracking number."),
    carrier: str = typer.Option(..., help="Carrier code, e.g. ZTO."),
    amount: str = typer.Option(..., help="Order amount, e.g. 199.00."),
    reason: str = typer.Option(..., help="Request reason code, e.g. buyer_refund."),
    action: Action = typer.Option(Action.RETURN_TO_SENDER, help="What the carrier should do."),
    recipient_name: str = typer.Option(
        None, help="Redirect only: the new recipient's name.", callback=parse.text
    ),
    recipient_phone: str = typer.Option(None, help="Redirect only: the recipient's phone."),
    province: str = typer.Option(None, help="Redirect only: province.", callback=parse.text),
    city: str = typer.Option(None, help="Redirect only: city.", callback=parse.text),
    district: str = typer.Option(None, help="Redirect only: district.", callback=parse.text),
    address: str = typer.Option(
        None, help="Redirect only: the detail line (street, building, room).", callback=parse.text
    ),
    after_sale_status: AfterSaleStatus = typer.Option(AfterSaleStatus.NONE),
    currency: str = typer.Option("CNY"),
    note: str = typer.Option(None, callback=parse.text),
    quoted_fee: str = typer.Option(
        None, help="The fee the carrier quoted before the request, e.g. 3.50 (if it quoted one)."
    ),
    parcel_stage: ParcelStage = typer.Option(
        ParcelStage.UNKNOWN, help="Where the parcel is now, as far as the merchant knows."
    ),
    picked_up_at: str = typer.Option(
        None, help="When the carrier picked the parcel up (ISO 8601 with timezone), if known."
    ),
    key: str = typer.Option(None, help="Idempotency key; a retry with the same key is safe."),
    by: str = typer.Option("merchant", help="Who asks."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Ask the carrier to intercept a parcel; prints the intercept id and status."""
    command = RequestIntercept(
        merchant_id=merchant,
        order_id=order,
        tracking_no=tracking,
        carrier=parse.carrier(carrier),
        amount_minor=parse.minor_units(amount, "--amount"),
        currency=currency,
        action=action,
        recipient=_recipient(
            name=recipient_name,
            phone=recipient_phone,
            province=province,
            city=city,
            district=district,
            address=address,
        ),
        request_reason=reason,
        note=note,
        after_sale_status=after_sale_status,
        key=key or uuid.uuid4().hex,
        actor=by,
        quoted_fee_minor=parse.minor_units(quoted_fee, "--quoted-fee") if quoted_fee else None,
        parcel_stage=parcel_stage,
        picked_up_at=parse.instant(picked_up_at, "--picked-up-at") if picked_up_at else None,
        occurred_at=system_clock(),
    )
    try:
        context.catalog().admit(command.carrier, command.action)
    except CarrierRefused as refused:
        raise context.refused_carrier(refused) from None
    decision, risk = usecases.request_intercept(context.engine(), command)
    _result(decision, json, f"intercept request for order {order}", {"risk": risk})
    if not json:
        console.print(_risk_line(risk))


def _recipient(**parts: str | None) -> Any:
    """The recipient as typed, or None when no part was: the command says what is missing."""
    if all(value is None for value in parts.values()):
        return None
    return parts


def cancel(
    ids: list[str] = typer.Argument(..., help="One or more intercept ids."),
    reason: CancelReason = typer.Option(..., help="Why the intercept is cancelled."),
    note: str = typer.Option(
        None, help="Required when the reason is 'other'.", callback=parse.text
    ),
    key: str = typer.Option(None, help="Idempotency key (single id only)."),
    by: str = typer.Option("merchant"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Cancel intercepts. Irreversible: a cancelled intercept can never be reopened."""
    parsed = [_id(i) for i in ids]
    if key and len(parsed) > 1:
        raise typer.BadParameter("--key applies to a single cancel; omit it for a batch")
    if not yes:
        _describe_for_cancel(parsed, errors if json else console)
    context.confirm(
        f"Cancel {len(parsed)} intercept(s)? A cancel cannot be undone.",
        yes,
        declined="nothing was cancelled",
        json=json,
    )
    done = usecases.cancel_many(context.engine(), parsed, reason, note, key, by, system_clock())
    summary = done.summary
    if json:
        emit_json(done.as_dict())
    else:
        for r in done.results:
            rule = f" [rule: {r.rule}]" if r.rule else ""
            console.print(f"{r.intercept_id} {r.outcome}: {r.message}{rule}")
        console.print(
            f"{summary['cancelled_or_already']} of {summary['requested']} cancelled "
            f"(or already cancelled); {summary['not_cancelled']} not cancelled"
        )
    if summary["not_cancelled"]:
        raise typer.Exit(3)


def _describe_for_cancel(ids: list[UUID], out: Console) -> None:
    """What is about to be cancelled, so that the person confirming knows which parcels."""
    reader = context.reader()
    for iid in ids:
        found = usecases.show_intercept(reader, str(iid))
        if found is None:
            out.print(f"  {iid}  (no such intercept)")
            continue
        r = found.intercept
        out.print(
            line(
                f"  {iid}",
                f"order {r['order_id']}",
                f"tracking {r['carrier']} {r['tracking_no']}",
                status_text(r["status"]),
            )
        )


def carrier(
    intercept: str = typer.Argument(..., help="Intercept id."),
    report: CarrierReport = typer.Argument(..., help="What the carrier reports."),
    carrier: str = typer.Option(..., help="The reporting carrier's code."),
    ref: str = typer.Option(None, help="The carrier's reference."),
    reason: FailureReason = typer.Option(None, help="Failure reason (failed only)."),
    code: RejectionCode = typer.Option(None, help="Why the carrier refused (rejected only)."),
    message: str = typer.Option(
        None, help="The carrier's own words on a refusal (rejected only).", callback=parse.text
    ),
    at: str = typer.Option(None, help="The carrier's event time, ISO 8601 with timezone."),
    key: str = typer.Option(None),
    by: str = typer.Option(None, help="Who reports; defaults to the carrier code."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Record a carrier's report; a report crossing a cancel is kept and flagged."""
    command = ReportCarrierOutcome(
        intercept_id=_id(intercept),
        carrier=parse.carrier(carrier),
        report=report,
        carrier_ref=ref,
        reason=reason,
        code=code,
        message=message,
        key=key,
        actor=by or carrier.upper(),
        occurred_at=parse.instant(at, "--at") if at else system_clock(),
    )
    _result(
        context.engine().execute(command),
        json,
        f"carrier report {report.value} from {command.carrier}",
    )


def fee(
    intercept: str = typer.Argument(..., help="Intercept id."),
    kind: FeeKind = typer.Option(...),
    amount: str = typer.Option(..., help="Amount, e.g. 12.00."),
    payer: Payer = typer.Option(Payer.MERCHANT),
    currency: str = typer.Option("CNY"),
    key: str = typer.Option(None),
    by: str = typer.Option("merchant"),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Record a fee the intercept caused."""
    command = ChargeFee(
        intercept_id=_id(intercept),
        kind=kind,
        amount_minor=parse.minor_units(amount, "--amount"),
        payer=payer,
        currency=currency,
        key=key,
        actor=by,
        occurred_at=system_clock(),
    )
    _result(
        context.engine().execute(command),
        json,
        f"{kind.value} fee of {money(command.amount_minor, currency)} paid by {payer.value}",
    )


def evidence(
    intercept: str = typer.Argument(..., help="Intercept id."),
    kind: EvidenceKind = typer.Option(...),
    file: Path = typer.Option(..., help="The evidence file; its sha256 is recorded."),
    note: str = typer.Option(None, callback=parse.text),
    key: str = typer.Option(None),
    by: str = typer.Option("merchant"),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Attach evidence (screenshot, chat log, call record). Evidence is append-only.

    The file is kept in the engine's evidence store (the one the HTTP API uploads
    to), named by its sha256, which the event records.
    """
    iid = _id(intercept)
    engine = context.engine()
    store = evidence_store(engine.settings)
    try:
        with file.open("rb") as source:
            staged = store.stage(source)
    except OSError as error:
        raise typer.BadParameter(f"cannot read {file}: {error.strerror}") from None
    except TooLarge as error:
        raise typer.BadParameter(f"{file}: {error}") from None
    try:
        if staged.size == 0:
            raise typer.BadParameter(f"{file} is empty: evidence needs content")
        command = AttachEvidence(
            intercept_id=iid,
            kind=kind,
            sha256=staged.sha256,
            uri=store.uri(staged.sha256),
            note=note,
            key=key,
            actor=by,
            occurred_at=system_clock(),
        )
        decision = engine.execute(command)
    except BaseException:
        store.discard(staged)  # refused or failed: no file kept for an event never recorded
        raise
    kept = store.keep(staged)
    _result(
        decision,
        json,
        f"{kind.value} evidence {file.name} ({staged.size} bytes, sha256 {staged.sha256}, "
        f"kept as {kept})",
        {"sha256": staged.sha256, "size": staged.size, "uri": command.uri},
    )


def after_sale(
    intercept: str = typer.Argument(..., help="Intercept id."),
    status: AfterSaleStatus = typer.Argument(...),
    key: str = typer.Option(None),
    by: str = typer.Option("merchant"),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Record the order's new after-sale status."""
    command = ChangeAfterSaleStatus(
        intercept_id=_id(intercept),
        after_sale_status=status,
        key=key,
        actor=by,
        occurred_at=system_clock(),
    )
    _result(context.engine().execute(command), json, f"after-sale status {status.value}")
