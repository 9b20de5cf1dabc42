"""`intercept erase --order O | --subject S` and `intercept rewrap-keys` (docs/privacy.md)."""

import typer

from engine import erasure
from engine.cli import context
from engine.cli.output import console, emit_json
from engine.composition import evidence_store, subject_keys, system_clock


def erase(
    order: str = typer.Option(None, help="Erase the buyer of this order and its recipients."),
    subject: str = typer.Option(None, help="Erase one data subject by its id (buyer-…)."),
    merchant: str = typer.Option(None, help="Only this merchant's order."),
    by: str = typer.Option("admin", help="Who asks for the erasure (recorded as the actor)."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Erase personal data: destroy the subjects' keys, delete the buyer's evidence files,
    rewrite the projections to [erased] and record an Erased fact. Safe to run again."""
    if (order is None) == (subject is None):
        raise typer.BadParameter("name exactly one of --order and --subject")
    if subject is not None:
        try:
            subject = erasure.subject_id(subject)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    engine = context.engine()
    try:
        report = erasure.erase(
            engine,
            evidence_store(engine.settings),
            actor=by,
            clock=system_clock,
            order_id=order,
            subject=subject,
            merchant_id=merchant,
        )
    finally:
        engine.close()
    if json:
        return emit_json(report.as_dict())
    console.print(
        f"erased {len(report.subjects)} subject(s) in {len(report.intercepts)} intercept(s): "
        f"{report.keys_destroyed} key(s) destroyed, {report.evidence_files_deleted} evidence "
        f"file(s) deleted, {report.erased_recorded} Erased event(s) recorded",
        markup=False,
    )


def rewrap_keys(json: bool = typer.Option(False, "--json")) -> None:
    """Wrap every subject key under the current (first) master key of INTERCEPT_MASTER_KEYS.

    Rotation without downtime: put the new key first and the old one after it in every
    process's settings, run this, then drop the old key.
    """
    keys = subject_keys(context.settings())
    try:
        count = keys.rewrap()
        current = keys.masters.current.key_id
    finally:
        keys.close()
    if json:
        return emit_json({"rewrapped": count, "master_key_id": current})
    console.print(f"rewrapped {count} subject key(s) under master key {current}", markup=False)
