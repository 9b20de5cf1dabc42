"""`intercept audit verify | head | history`: tamper evidence and history for auditors."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import typer

from engine.cli import context
from engine.cli.output import console, emit_json, errors, table

if TYPE_CHECKING:  # loaded when an audit command runs: it reaches Kafka's client
    from engine.audit_cases import Verdict

audit = typer.Typer(
    help="Verify the event history's hash chain and export histories.", no_args_is_help=True
)


class Source(StrEnum):
    store = "store"
    kafka = "kafka"


class Format(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


@audit.command()
def verify(
    source: Source = typer.Option(
        Source.store,
        "--from",
        help=("Walk the event store, or the Kafka topic from its earliest offsets (no database)."),
    ),
    anchor: str = typer.Option(
        None,
        help=(
            "POSITION:LOG_HASH kept outside the store (from `audit head` or a Kafka message); "
            "the store's chain must pass through it."
        ),
    ),
    bootstrap: str = typer.Option(None, "--bootstrap", help="Kafka bootstrap servers."),
    topic: str = typer.Option(None, "--topic", help="Events topic (default intercept.events)."),
    every: bool = typer.Option(
        False, "--all", help="List every problem instead of stopping at the first."
    ),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute every hash and link; exit 1 naming the first event that does not hold.

    On the topic, messages that are not this engine's events (foreign) or carry no hashes
    (unhashed) are reported as such and the check goes on past them.
    """
    try:
        pinned = _cases().Anchor.parse(anchor) if anchor else None
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if source is Source.kafka:
        if pinned is not None:
            raise typer.BadParameter("--anchor checks the store; drop --from kafka")
        verdict = _verify_topic(bootstrap, topic, every)
    else:
        engine = context.engine()
        verdict = _cases().verify_store(engine, anchor=pinned, every=every)
    _report(verdict, source, json, every)


def _verify_topic(bootstrap: str | None, topic: str | None, every: bool) -> Verdict:
    settings = context.settings(
        **{k: v for k, v in {"kafka_bootstrap": bootstrap, "topic": topic}.items() if v is not None}
    )
    if settings.kafka_bootstrap is None:
        raise typer.BadParameter(
            "--from kafka needs a broker: set KAFKA_BOOTSTRAP_SERVERS or pass --bootstrap"
        )
    try:
        return _cases().verify_topic(settings, every)
    except _cases().MissingTopic as error:
        raise typer.BadParameter(str(error)) from None


def _report(verdict: Verdict, source: Source, json: bool, every: bool) -> None:
    if json:
        emit_json({"source": source.value, **verdict.as_dict()})
        if not verdict.ok:
            raise typer.Exit(1)
        return
    where = "event store" if source is Source.store else "topic"
    if verdict.problem is None:
        head = f"; head {verdict.head}" if verdict.head else ""
        console.print(
            f"verified {verdict.checked} events from the {where}: every hash and link holds{head}",
            markup=False,
            soft_wrap=True,
        )
    elif every:
        for line in _cases().describe_all(verdict):
            errors.print(line, markup=False, soft_wrap=True)
        errors.print(
            f"{len(verdict.problems)} problem(s); {verdict.checked} events verified",
            markup=False,
            soft_wrap=True,
        )
    else:
        for line in _cases().describe(verdict):
            errors.print(line, markup=False, soft_wrap=True)
        errors.print(
            "stopped at the first problem; --all lists every one", markup=False, soft_wrap=True
        )
    if source is Source.kafka:
        _explain_topic(verdict, listed=every and verdict.problem is not None)
    if not verdict.ok:
        raise typer.Exit(1)


def _explain_topic(verdict: Verdict, listed: bool) -> None:
    """Why the topic's counts differ from the store's, and what could not be verified."""
    out = console if verdict.ok else errors
    notes = [
        "the topic carries intercept events only: policies and parcel registries are "
        "not published, so the event store counts more events than the topic"
    ]
    if verdict.redeliveries:
        notes.append(
            f"{verdict.redeliveries} of the {verdict.checked} messages verified are "
            "redeliveries of an event already seen (delivery is at least once), each "
            "identical to its first copy"
        )
    counts = verdict.counts()
    if counts["foreign"]:
        notes.append(
            f"{counts['foreign']} foreign message(s) skipped: not events of this engine, "
            "they change no projection (the consumer dead-letters them)"
        )
    if counts["unhashed"]:
        notes.append(
            f"{counts['unhashed']} event message(s) carry no hashes and cannot be verified: "
            "published before tamper evidence or not by this engine; a consumer would "
            "apply them unchecked"
        )
    for note in notes:
        out.print(note, markup=False, soft_wrap=True)
    if not listed:
        for p in verdict.unverifiable:
            out.print(f"{p.check.upper()} {p.message}", markup=False, soft_wrap=True)


@audit.command()
def head(json: bool = typer.Option(False, "--json")) -> None:
    """The newest position and log hash: keep it elsewhere, to pass to verify --anchor."""
    engine = context.engine()  # held: the application closes its store when collected
    anchor = _cases().chain_head(engine)
    if json:
        return emit_json({"anchor": anchor})
    console.print(anchor or "the event store is empty", markup=False, soft_wrap=True)


@audit.command()
def history(
    intercept: str = typer.Argument(None, help="Intercept id."),
    order: str = typer.Option(None, help="Every intercept of this order id."),
    tracking: str = typer.Option(None, help="Every intercept of this tracking number."),
    merchant: str = typer.Option(None, help="Only this merchant's (with --order/--tracking)."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, jsonl or csv."),
    output: Path = typer.Option(None, help="Write the export here instead of stdout."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """The whole timeline: who did what, when it happened and when it was recorded."""
    if sum(x is not None for x in (intercept, order, tracking)) != 1:
        raise typer.BadParameter("give exactly one of ID, --order or --tracking")
    if output is not None and fmt is Format.table:
        raise typer.BadParameter("--output writes an export: add --format jsonl or csv")
    engine = context.engine()
    ids = (
        [_id(intercept)]
        if intercept
        else _cases().find_intercepts(engine, order, tracking, merchant)
    )
    try:
        lines = _cases().history(engine, ids)
    except _cases().Unreadable as error:
        errors.print(
            f"error: a stored event cannot be read ({error}); run `intercept audit verify`",
            markup=False,
        )
        raise typer.Exit(1) from None
    if not lines:
        errors.print("no intercept matches", markup=False)
        raise typer.Exit(1)
    if json and fmt is Format.table and output is None:
        return emit_json({"events": lines})
    _export(lines, fmt, output)


def _id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an intercept id") from None


def _export(lines: list[dict], fmt: Format, output: Path | None) -> None:
    if fmt is Format.table:
        console.print(
            table(
                "history",
                ["intercept", "v", "event", "occurred", "recorded", "by", "details"],
                [
                    [
                        line["intercept_id"][:8],
                        line["version"],
                        line["event_type"],
                        line["occurred_at"],
                        line["recorded_at"],
                        line["actor"],
                        ", ".join(f"{k}={v}" for k, v in line["details"].items() if v is not None),
                    ]
                    for line in lines
                ],
            )
        )
        return
    text = _cases().render(lines, fmt.value)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(lines)} events to {output}", markup=False, soft_wrap=True)


def _cases():
    """The audit use cases, imported when an audit command runs (they reach Kafka's client)."""
    from engine import audit_cases

    return audit_cases
