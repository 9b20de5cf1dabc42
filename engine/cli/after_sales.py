"""`intercept after-sale report | show | list`, and `intercept after-sale ID STATUS`.

`report` records a platform's after-sale record (with its shipment) and says what the
automatic intercept rule did; `after-sale ID STATUS` still changes the after-sale status
on an existing intercept.
"""

import typer
from typer.core import TyperGroup

from domain.commands import ReportAfterSale
from domain.vocabulary import AfterSaleStatus, ParcelStage
from engine import usecases
from engine.carrier_catalog import CarrierRefused
from engine.cli import commands, context, parse
from engine.cli.output import console, emit_json, fail, line, money, table
from engine.composition import system_clock


class _WithStatusChange(TyperGroup):
    """`after-sale ID STATUS` (no subcommand named) is the status change on an intercept."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["change", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_WithStatusChange,
    help="After-sale records (report, show, list), or `after-sale ID STATUS` on an intercept.",
    no_args_is_help=True,
)
app.command("change", hidden=True)(commands.after_sale)


def _print(answer: dict) -> None:
    a = answer
    parts = [
        f"after-sale {a['after_sale_id']} of {a['merchant_id']}",
        f"order {a['order_id']}",
        f"{a['carrier']} {a['tracking_no']}",
        money(a["amount_minor"], a["currency"]),
        a["status"],
        f"auto-rule: {a['auto_rule']}",
    ]
    if a["intercept_id"]:
        parts.append(f"intercept {a['intercept_id']}")
    if a["stopped_by"]:
        parts.append(f"stopped by {a['stopped_by']}: {a['message']}")
    console.print(line(*parts))


@app.command()
def report(
    merchant: str = typer.Option(..., "--merchant", help="Merchant id."),
    order: str = typer.Option(..., "--order", help="The order the after-sale is about."),
    after_sale_id: str = typer.Option(..., "--after-sale-id", help="The platform's after-sale id."),
    status: AfterSaleStatus = typer.Option(..., "--status", help="The after-sale's status now."),
    tracking: str = typer.Option(..., "--tracking", help="The parcel's tracking number."),
    carrier: str = typer.Option(..., "--carrier", help="The parcel's carrier code, e.g. ZTO."),
    amount: str = typer.Option(..., "--amount", help="The order amount, e.g. 199.00."),
    currency: str = typer.Option("CNY", "--currency"),
    stage: ParcelStage = typer.Option(
        ParcelStage.IN_TRANSIT, "--stage", help="Where the parcel is now, as the platform knows."
    ),
    picked_up_at: str = typer.Option(
        None, "--picked-up-at", help="When the carrier picked the parcel up (ISO 8601), if known."
    ),
    by: str = typer.Option("platform", "--by", help="Who reports it."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Record an after-sale report; the same report again records nothing."""
    command = ReportAfterSale(
        merchant_id=merchant,
        after_sale_id=after_sale_id,
        order_id=order,
        tracking_no=tracking,
        carrier=parse.carrier(carrier),
        amount_minor=parse.minor_units(amount, "--amount"),
        currency=currency,
        status=status,
        parcel_stage=stage,
        picked_up_at=parse.instant(picked_up_at, "--picked-up-at") if picked_up_at else None,
        actor=by,
        occurred_at=system_clock(),
    )
    try:
        context.catalog().admit_all([command.carrier], "carrier")
    except CarrierRefused as refused:
        raise context.refused_carrier(refused) from None
    answer = usecases.report_after_sale(context.engine(), command)
    if json:
        return emit_json(answer)
    console.print(f"after-sale report: {answer['outcome']}", markup=False)
    _print(answer["after_sale"])


@app.command()
def show(
    merchant: str = typer.Option(..., "--merchant", help="Merchant id."),
    after_sale_id: str = typer.Argument(..., help="The platform's after-sale id."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """One after-sale record and what the automatic rule did with it."""
    found = usecases.after_sale(context.engine(), merchant, after_sale_id)
    if found is None:
        fail(f"no after-sale {after_sale_id} for merchant {merchant}", json)
    if json:
        return emit_json(found)
    _print(found)


@app.command("list")
def list_(
    merchant: str = typer.Option(None, "--merchant", help="Merchant id (all when omitted)."),
    auto_rule: str = typer.Option(
        None, "--auto-rule", help="Only those the rule requested, declined or has pending."
    ),
    limit: int = typer.Option(50, min=1, max=1000),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """The package center's after-sale records, newest first."""
    if auto_rule not in (None, "requested", "declined", "pending"):
        raise typer.BadParameter("--auto-rule is requested, declined or pending")
    rows = usecases.list_after_sales(context.reader(), merchant, auto_rule, limit)
    if json:
        return emit_json({"after_sales": rows})
    console.print(
        table(
            "after-sale records",
            ["after-sale", "merchant", "order", "parcel", "status", "auto-rule", "stopped by"],
            [
                [
                    r["after_sale_id"],
                    r["merchant_id"],
                    r["order_id"],
                    f"{r['carrier']} {r['tracking_no']}",
                    r["status"],
                    r["auto_rule"],
                    r["stopped_by"] or "",
                ]
                for r in rows
            ],
        )
    )
