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
    }


@app.command("set")
def set_(
    merchant: str = typer.Argument(..., help="Merchant id."),
    min_amount: str = typer.Option("0", help="Smallest order amount that may be intercepted."),
    max_amount: str = typer.Option(..., help="Largest order amount that may be intercepted."),
    carriers: str = typer.Option(..., help="Comma-separated carrier codes, e.g. ZTO,SF."),
    by: str = typer.Option("operator", help="Who sets the policy."),
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    command = SetPolicy(
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
        f"{','.join(p['carriers'])} ({decision.outcome.value})"
    )


@app.command()
def show(
    merchant: str = typer.Argument(..., help="Merchant id."),
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    policy = context.engine().policy(merchant)
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
        f"{','.join(result['carriers'])}, set by {result['updated_by']} (v{result['version']})"
    )
