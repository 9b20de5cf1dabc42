"""An intercept's whole history for auditors: who did what, when it happened, when recorded.

Read from the event store itself (the projections only help find intercepts by order
or tracking number), with each event's position and chain hashes so an export can be
checked against `intercept audit verify`.
"""

import csv
import io
from collections.abc import Iterable
from typing import Any, TextIO
from uuid import UUID

import orjson

from domain.events import InterceptEvent

COLUMNS = (
    "intercept_id",
    "version",
    "position",
    "event_type",
    "occurred_at",
    "recorded_at",
    "actor",
    "merchant_id",
    "details",
    "event_hash",
    "prev_hash",
)

_COMMON = {"merchant_id", "actor", "occurred_at", "idempotency_key"}


def entries(app, intercept_id: UUID) -> list[dict[str, Any]]:
    """One line per recorded event of the intercept, in version order."""
    links = {k.version: k for k in app.event_log.chain_of(intercept_id)}
    lines = []
    for event in app.event_log.history(intercept_id):
        if not isinstance(event, InterceptEvent):
            continue
        link = links.get(event.originator_version)
        lines.append(
            {
                "intercept_id": str(intercept_id),
                "version": event.originator_version,
                "position": link.position if link else None,
                "event_type": event.event_type(),
                "occurred_at": event.occurred_at.isoformat(),
                "recorded_at": event.recorded_at.isoformat(),
                "actor": event.actor,
                "merchant_id": event.merchant_id,
                "details": {k: v for k, v in event.payload().items() if k not in _COMMON},
                "event_hash": link.event_hash if link else None,
                "prev_hash": link.prev_hash if link else None,
            }
        )
    return lines


def as_jsonl(lines: Iterable[dict[str, Any]], out: TextIO) -> None:
    for line in lines:
        out.write(orjson.dumps(line).decode() + "\n")


def as_csv(lines: Iterable[dict[str, Any]], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for line in lines:
        writer.writerow({**line, "details": orjson.dumps(line["details"]).decode()})


def render(lines: list[dict[str, Any]], fmt: str) -> str:
    out = io.StringIO()
    (as_jsonl if fmt == "jsonl" else as_csv)(lines, out)
    return out.getvalue()
