"""`intercept risk`: before acting, what a merchant's own history says about an intercept."""

import typer

from domain.vocabulary import Action, ParcelStage
from engine import usecases
from engine.cli import context, parse
from engine.cli.output import console, emit_json, money, table


def _pct(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}%"


def risk(
    merchant: str = typer.Option(..., help="The merchant whose history is read."),
    carrier: str = typer.Option(None, help="The carrier (all when omitted: the whole table)."),
    action: Action = typer.Option(None, help="With --carrier: the action to estimate."),
    stage: ParcelStage = typer.Option(
        ParcelStage.UNKNOWN, help="With --action: where the parcel is now."
    ),
    picked_up_at: str = typer.Option(
        None, help="With --action: when the carrier picked the parcel up (ISO 8601), if known."
    ),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """The estimated success probability and likely fee of an intercept, from the merchant's
    own decided intercepts of this carrier, action, parcel stage and time since pickup (or
    of every time since pickup, when those are too few); or the table of rates."""
    since = parse.since_pickup(picked_up_at)
    engine = context.reader()
    code = carrier.upper() if carrier else None
    if action is not None:
        if code is None:
            raise typer.BadParameter("--action needs --carrier")
        found = usecases.risk_estimate(engine, merchant, code, action.value, stage.value, since)
        if json:
            return emit_json(found)
        console.print(
            f"{code} {action.value} ({stage.value}, {since} after pickup), from "
            f"{found['cases']} decided case(s) of {', '.join(found['based_on'])}:"
        )
        if found["enough_history"]:
            console.print(
                f"  success probability {_pct(found['success_probability'])}, "
                f"likely fee {money(found['likely_fee_minor'])}"
            )
        if found["note"]:
            console.print(f"  {found['note']}")
        return None
    rows = usecases.risk_table(engine, merchant, code)
    if json:
        return emit_json({"min_cases": usecases.MIN_RISK_CASES, "buckets": rows})
    console.print(
        table(
            f"{merchant}: rates by bucket (estimates need {usecases.MIN_RISK_CASES} decided cases)",
            [
                "carrier",
                "action",
                "parcel stage",
                "since pickup",
                "requests",
                "decided",
                "success",
                "likely fee",
            ],
            [
                [
                    r["carrier"],
                    r["action"],
                    r["parcel_stage"],
                    r["since_pickup"],
                    r["requests"],
                    r["cases"],
                    _pct(r["success_probability"]) or "not enough history",
                    money(r["likely_fee_minor"]),
                ]
                for r in rows
            ],
        )
    )
    return None
