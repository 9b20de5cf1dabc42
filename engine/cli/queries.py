"""`intercept list` (the package center) and `intercept show` (one intercept's detail)."""

import typer

from domain.vocabulary import AfterSaleStatus, Status
from engine import reading
from engine.cli import as_of as as_of_view
from engine.cli import context, parse
from engine.cli.output import conflict, console, emit_json, fail, line, money, table, when
from engine.cli.output import status as status_text
from engine.composition import connected_carriers, system_clock


def list_(
    merchant: str = typer.Option(None, help="Merchant id (all merchants when omitted)."),
    days: int = typer.Option(
        None, min=1, max=3650, help="Requested within the last N days (default 90)."
    ),
    since: str = typer.Option(None, help="Requested at or after (ISO 8601 with timezone)."),
    until: str = typer.Option(None, help="Requested before (ISO 8601 with timezone)."),
    status: Status = typer.Option(None),
    carrier: str = typer.Option(None),
    after_sale_status: AfterSaleStatus = typer.Option(None),
    order: str = typer.Option(None),
    tracking: str = typer.Option(None),
    conflicts: bool = typer.Option(False, "--conflicts", help="Only intercepts with a conflict."),
    limit: int = typer.Option(20, min=1, max=1000, help="Rows per page."),
    cursor: str = typer.Option(None, help="Continue from a previous page's cursor."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """The package center: intercepts newest first, filtered, paginated."""
    if days is not None and (since or until):
        raise typer.BadParameter("use either --days or --since/--until, not both")
    request = reading.ListRequest(
        merchant_id=merchant,
        days=days,
        since=parse.instant(since, "--since") if since else None,
        until=parse.instant(until, "--until") if until else None,
        status=status.value if status else None,
        carrier=carrier.upper() if carrier else None,
        after_sale_status=after_sale_status.value if after_sale_status else None,
        order_id=order,
        tracking_no=tracking,
        conflicts_only=conflicts,
        limit=limit,
        cursor=cursor,
    )
    try:
        page = reading.list_intercepts(context.read_side(), request, system_clock())
    except reading.BadCursor as error:
        raise typer.BadParameter(str(error)) from None
    if json:
        return emit_json({"intercepts": page.rows, "next_cursor": page.next_cursor})
    for r in page.rows:
        parts = [
            r["intercept_id"],
            when(r["requested_at"]),
            r["merchant_id"],
            r["order_id"],
            f"{r['carrier']} {r['tracking_no']}",
            money(r["amount_minor"], r["currency"]),
            status_text(r["status"]),
            f"after-sale:{r['after_sale_status']}",
        ]
        if r["conflict"]:
            parts += [conflict(f"CONFLICT {r['conflict']}")]
        if r.get("flags"):
            parts += [conflict(f"FLAGS {r['flags']}")]
        console.print(line(*parts))
    console.print(f"{len(page.rows)} shown", style="dim")
    if page.next_cursor:
        console.print(f"more: --cursor {page.next_cursor}")


def show(
    intercept: str = typer.Argument(..., help="Intercept id."),
    as_of: str = as_of_view.AS_OF,
    occurred_as_of: str = as_of_view.OCCURRED_AS_OF,
    json: bool = typer.Option(False, "--json"),
) -> None:
    """One intercept: its state, whether it can still be cancelled, and its whole timeline."""
    at = as_of_view.cutoff(as_of, occurred_as_of)
    if at is not None:
        found = reading.detail(*as_of_view.intercept_at(intercept, at, json))
    else:
        found = reading.show_intercept(context.read_side(), intercept)
    if found is None:
        fail(f"no intercept with id {intercept}" + (" at that time" if at else ""), json)
    row, events = found.intercept, found.timeline
    if json:
        return emit_json(found.as_dict())
    console.print(table(f"intercept {intercept}", ["field", "value"], _fields(row)))
    console.print(
        "can still be cancelled (intercept cancel ID --reason ...)"
        if found.cancellable
        else f"can no longer be cancelled: it is {row['status']}"
    )
    if row["carrier"] not in connected_carriers(context.settings()):
        console.print(
            f"carrier {row['carrier']} is not connected: nothing is sent to it; record what it "
            f"says with intercept carrier {intercept} ...",
            markup=False,
        )
    console.print(
        table(
            "timeline",
            ["v", "event", "occurred", "recorded", "by", "details"],
            [
                [
                    e["version"],
                    e["event_type"],
                    when(e["occurred_at"]),
                    when(e["recorded_at"]),
                    e["actor"],
                    _details(e["data"]),
                ]
                for e in events
            ],
        )
    )


def _fields(row: dict) -> list[list]:
    """The row as people read it: money with its currency, times in one form with zone."""
    shown = []
    for name, value in row.items():
        if value is None:
            continue
        if name in ("amount_minor", "fees_minor"):
            name, value = name.removesuffix("_minor"), money(value, row["currency"])
        elif name.endswith("_at"):
            value = when(value)
        elif name == "status":
            value = status_text(value)
        elif name == "conflict":
            value = conflict(value)
        shown.append([name, value])
    return shown


def _details(data: dict) -> str:
    skip = {"merchant_id", "actor", "occurred_at", "idempotency_key"}
    return ", ".join(f"{k}={v}" for k, v in data.items() if k not in skip and v is not None)
