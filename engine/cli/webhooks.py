"""`intercept webhooks add | list | remove | deliveries | redeliver | run` and
`intercept automation run`: merchant webhooks and the automation processes."""

import typer

from engine.cli import context
from engine.cli.kafka import _log_to_stderr, _run_threads, loop_worker
from engine.cli.output import console, emit_json, fail, table
from engine.composition import build_automation, build_engine, system_clock, webhook_store
from engine.logs import LogFormat
from engine.webhooks import dispatcher as hooks

app = typer.Typer(
    help="Merchant webhooks: endpoints, deliveries, the dispatcher.", no_args_is_help=True
)
automation = typer.Typer(
    help="The automatic intercept rule and the policy deadlines.", no_args_is_help=True
)

JSON = typer.Option(False, "--json")
LOG_FORMAT = typer.Option(LogFormat.TEXT, "--log-format", help="text, or json: one object a line.")


def _everyone(_: str) -> bool:
    return True  # the CLI is the operator's: it sees every merchant


@app.command()
def add(
    merchant: str = typer.Option(..., "--merchant", help="Merchant id."),
    url: str = typer.Option(..., "--url", help="http(s) URL the events are POSTed to."),
    events: str = typer.Option(
        "", "--events", help="Comma-separated event types (default: every one)."
    ),
    json: bool = JSON,
) -> None:
    """Register an endpoint; its signing secret is printed this once."""
    settings = context.settings()
    engine = build_engine(settings)
    try:
        added = hooks.add_endpoint(
            webhook_store(settings),
            engine.app.event_log.max_position(),
            merchant,
            url,
            events.split(","),
            system_clock(),
            settings.webhooks_allow_private,
        )
    except hooks.BadWebhook as error:
        raise typer.BadParameter(str(error)) from None
    if json:
        return emit_json(added)
    console.print(f"webhook endpoint {added['endpoint_id']} for {merchant}: {url}", markup=False)
    console.print(f"signing secret (shown only now): {added['secret']}", markup=False)


@app.command("list")
def list_(
    merchant: str = typer.Option(None, "--merchant", help="Merchant id (all when omitted)."),
    json: bool = JSON,
) -> None:
    """The endpoints, enabled or disabled (and why); never their secrets."""
    found = hooks.list_endpoints(webhook_store(context.settings()), merchant)
    if json:
        return emit_json({"endpoints": found})
    console.print(
        table(
            "webhook endpoints",
            ["endpoint", "merchant", "url", "events", "status", "why"],
            [
                [
                    e["endpoint_id"],
                    e["merchant_id"],
                    e["url"],
                    ",".join(e["events"]) or "all",
                    e["status"],
                    e["disabled_reason"] or "",
                ]
                for e in found
            ],
        )
    )


@app.command()
def remove(endpoint: str = typer.Argument(..., help="Endpoint id."), json: bool = JSON) -> None:
    """Remove an endpoint: nothing more is sent to it."""
    try:
        removed = hooks.remove_endpoint(
            webhook_store(context.settings()), endpoint, system_clock(), _everyone
        )
    except hooks.UnknownWebhook as error:
        fail(str(error), json)
    if json:
        return emit_json(removed)
    console.print(f"webhook endpoint {endpoint} removed", markup=False)


@app.command()
def deliveries(
    merchant: str = typer.Option(None, "--merchant"),
    endpoint: str = typer.Option(None, "--endpoint"),
    limit: int = typer.Option(100, min=1, max=1000),
    json: bool = JSON,
) -> None:
    """The delivery log, newest first: status, attempts, last error."""
    found = hooks.list_deliveries(webhook_store(context.settings()), merchant, endpoint, limit)
    if json:
        return emit_json({"deliveries": found})
    console.print(
        table(
            "webhook deliveries",
            ["webhook-id", "endpoint", "event", "status", "attempts", "last error"],
            [
                [
                    d["delivery_id"],
                    d["endpoint_id"],
                    d["event_type"],
                    d["status"],
                    d["attempts"],
                    d["last_error"] or "",
                ]
                for d in found
            ],
        )
    )


@app.command()
def redeliver(
    delivery: str = typer.Argument(..., help="The delivery's webhook-id."), json: bool = JSON
) -> None:
    """Send a delivery again under the same webhook-id (its endpoint is enabled again)."""
    try:
        found = hooks.redeliver(
            webhook_store(context.settings()), delivery, system_clock(), _everyone
        )
    except hooks.UnknownWebhook as error:
        fail(str(error), json)
    if json:
        return emit_json(found)
    console.print(f"webhook {delivery} queued again", markup=False)


@app.command()
def run(log_format: LogFormat = LOG_FORMAT) -> None:
    """Deliver webhooks until stopped (SIGINT/SIGTERM)."""
    settings = context.settings()
    _log_to_stderr("webhooks", log_format)
    engine = build_engine(settings)
    loop = build_automation(settings, engine, rules=False)
    _run_threads({"webhooks": loop_worker(loop, "webhook dispatcher")})


@automation.command("run")
def automation_run(
    webhooks: bool = typer.Option(True, help="Deliver webhooks in this process too."),
    log_format: LogFormat = LOG_FORMAT,
) -> None:
    """Run the automatic intercept rule and the deadlines (and webhooks) until stopped."""
    settings = context.settings()
    _log_to_stderr("automation", log_format)
    engine = build_engine(settings)
    loop = build_automation(settings, engine, webhooks=webhooks)
    _run_threads({"automation": loop_worker(loop, "automation")})
