"""`intercept policy set|show`: a merchant's intercept policy."""

import typer

from domain.commands import SetPolicy
from domain.policy import format_minor
from engine.carrier_catalog import CarrierRefused
from engine.cli import context, parse
from engine.cli.output import console, emit_json
from engine.composition import system_clock

app = typer.Typer(help="Set or show a merchant's intercept policy.", no_args_is_help=True)


def _describe(policy) -> dict:
    return {
        "merchant_id": policy.merchant_id,
        "min_amount": format_minor(policy.min_amount_minor),
        "max_amount": format_minor(policy.max_amount_minor),
        "carriers": list(policy.carriers),
        "updated_by": policy.updated_by,
        "version": policy.version,
        "auto_intercept": list(policy.auto_intercept),
        "accept_within_minutes": policy.accept_within_minutes,
        "outcome_within_minutes": policy.outcome_within_minutes,
    }


def _rules(p: dict) -> str:
    said = []
    if p["auto_intercept"]:
        said.append(f"auto-intercept on {','.join(p['auto_intercept'])}")
    if p["accept_within_minutes"]:
        said.append(f"acceptance within {p['accept_within_minutes']} min")
    if p["outcome_within_minutes"]:
        said.append(f"outcome within {p['outcome_within_minutes']} min")
    return f"; {'; '.join(said)}" if said else ""


@app.command("set")
def set_(
    merchant: str = typer.Argument(..., help="Merchant id."),
    min_amount: str = typer.Option("0", help="Smallest order amount that may be intercepted."),
    max_amount: str = typer.Option(..., help="Largest order amount that may be intercepted."),
    carriers: str = typer.Option(..., help="Comma-separated carrier codes, e.g. ZTO,SF."),
    auto_intercept: str = typer.Option(
        "",
        "--auto-intercept",
        help="After-sale statuses that request the intercept automatically, e.g. "
        "refund_requested,return_requested (default: none, the rule is off).",
    ),
    accept_within: str = typer.Option(
        None, "--accept-within", help="Deadline for the carrier's acceptance, e.g. 2h or 90m."
    ),
    outcome_within: str = typer.Option(
        None, "--outcome-within", help="Deadline for the carrier's outcome, e.g. 48h."
    ),
    by: str = typer.Option("operator", help="Who sets the policy."),
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    command = SetPolicy(
        auto_intercept=parse.after_sale_statuses(auto_intercept, "--auto-intercept"),
        accept_within_minutes=parse.minutes(accept_within, "--accept-within"),
        outcome_within_minutes=parse.minutes(outcome_within, "--outcome-within"),
        merchant_id=merchant,
        min_amount_minor=parse.minor_units(min_amount, "--min-amount"),
        max_amount_minor=parse.minor_units(max_amount, "--max-amount"),
        carriers=parse.carriers(carriers),
        actor=by,
        occurred_at=system_clock(),
    )
    try:
        context.catalog().admit_all(command.carriers)
    except CarrierRefused as refused:
        raise context.refused_carrier(refused) from None
    decision = context.engine().execute(command)
    result = {"outcome": decision.outcome.value, "policy": _describe(decision.state)}
    if json:
        return emit_json(result)
    p = _describe(decision.state)
    console.print(
        f"policy for {merchant}: {p['min_amount']}..{p['max_amount']} via "
        f"{','.join(p['carriers'])}{_rules(p)} ({decision.outcome.value})"
    )


@app.command()
def show(
    merchant: str = typer.Argument(..., help="Merchant id."),
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    policy = context.write_side().policy(merchant)
    if policy is None:
        if json:
            emit_json({"merchant_id": merchant, "policy": None})
        else:
            console.print(f"merchant {merchant} has no intercept policy: no interception allowed")
        raise typer.Exit(0)
    result = _describe(policy)
    if json:
        return emit_json(result)
    console.print(
        f"policy for {merchant}: {result['min_amount']}..{result['max_amount']} via "
        f"{','.join(result['carriers'])}{_rules(result)}, set by {result['updated_by']} "
        f"(v{result['version']})"
    )
