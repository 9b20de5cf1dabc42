"""Entry point of the `intercept` command: wiring and exit codes.

Exit codes: 0 ok, 2 usage error or invalid input, 3 refused by a domain rule, 1 other.
"""

import os
import sys
from pathlib import Path

import typer
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

# typer carries its own click; its usage errors are these classes, not click's.
from typer._click.exceptions import ClickException, UsageError

from domain.errors import DomainError
from engine.cli import (
    after_sales,
    audit,
    carriers,
    commands,
    context,
    erase,
    export,
    kafka,
    keys,
    migrate,
    policy,
    queries,
    replay,
    risk,
    schemas,
    serve,
    stats,
    status,
    webhooks,
)
from engine.cli.demo import demo_command
from engine.cli.output import emit_json, errors
from engine.keystore import KeyStoreUnavailable
from engine.settings import masked
from engine.usecases import DatabaseBusy, DatabaseUnavailable

app = typer.Typer(
    name="intercept",
    help="Event-sourced engine for parcel intercept requests. A cancel is irreversible.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _global(
    home: Path = typer.Option(None, envvar="INTERCEPT_HOME", help="Data folder (default ./var)."),
    event_store: str = typer.Option(None, help="Event store URL (default: SQLite under home)."),
    projections: str = typer.Option(
        None,
        help=(
            "Projection database URL (default: SQLite under home). Read as it is, not "
            "caught up: e.g. a view built by `replay --into`."
        ),
    ),
    kafka: str = typer.Option(None, help="Kafka bootstrap servers (default: embedded mode)."),
) -> None:
    context.configure(home=home, event_store=event_store, projections=projections, kafka=kafka)


app.add_typer(policy.app, name="policy")
app.command()(commands.request)
app.command()(commands.cancel)
app.command()(commands.carrier)
app.command()(commands.fee)
app.command()(commands.evidence)
app.add_typer(after_sales.app, name="after-sale")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(webhooks.automation, name="automation")
app.command("list")(queries.list_)
app.command()(queries.show)
app.command("demo")(demo_command)
app.command("serve")(serve.serve)
app.add_typer(keys.app, name="keys")
app.command()(kafka.relay)
app.command()(kafka.consume)
app.command()(kafka.run)
app.add_typer(kafka.dlq, name="dlq")
app.command("migrate")(migrate.migrate)
app.command()(replay.replay)
app.add_typer(audit.audit, name="audit")
app.add_typer(schemas.app, name="schemas")
app.command("status")(status.status)
app.add_typer(carriers.app, name="carriers")
app.command("check")(carriers.check)
app.command("erase")(erase.erase)
app.command("rewrap-keys")(erase.rewrap_keys)
app.command("stats")(stats.stats)
app.command("export")(export.export)
app.command("risk")(risk.risk)


def _fail(code: int, kind: str, message: str, rule: str | None = None) -> None:
    message = masked(message)
    if "--json" in sys.argv:
        emit_json({"error": {"type": kind, "rule": rule, "message": message}})
    else:
        errors.print(f"error: {message}" + (f" [rule: {rule}]" if rule else ""), markup=False)
    sys.exit(code)


# The option a command field comes from, so that a refusal names what the user typed.
_FLAGS = {
    "merchant_id": "--merchant",
    "order_id": "--order",
    "tracking_no": "--tracking",
    "carrier": "--carrier",
    "amount_minor": "--amount",
    "currency": "--currency",
    "recipient": "--recipient-name, --recipient-phone, --province, --city, --district, --address",
    "recipient.name": "--recipient-name",
    "recipient.phone": "--recipient-phone",
    "recipient.province": "--province",
    "recipient.city": "--city",
    "recipient.district": "--district",
    "recipient.address": "--address",
    "action": "--action",
    "code": "--code",
    "message": "--message",
    "request_reason": "--reason",
    "reason": "--reason",
    "note": "--note",
    "key": "--key",
    "actor": "--by",
    "carrier_ref": "--ref",
    "quoted_fee_minor": "--quoted-fee",
    "after_sale_id": "--after-sale-id",
    "status": "--status",
    "parcel_stage": "--stage",
    "picked_up_at": "--picked-up-at",
    "accept_within_minutes": "--accept-within",
    "outcome_within_minutes": "--outcome-within",
    "auto_intercept": "--auto-intercept",
    "event_store": "--event-store / INTERCEPT_EVENT_STORE",
    "projections": "--projections / INTERCEPT_PROJECTIONS",
    "home": "--home / INTERCEPT_HOME",
}
_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]*$"


def _validation_message(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        field = ".".join(str(p) for p in e["loc"])
        if not field:  # a rule across fields: its own words say which
            parts.append(_said(e))
            continue
        flag = _FLAGS.get(field)
        parts.append(f"{flag} ({field}): {_said(e)}" if flag else f"{field}: {_said(e)}")
    return "invalid input: " + "; ".join(parts)


def _said(detail) -> str:
    # pydantic prefixes a validator's own words ("Value error, ..."); users get the words.
    raised = detail.get("ctx", {}).get("error")
    if isinstance(raised, ValueError) and str(raised):
        return str(raised)
    if detail["type"] == "string_pattern_mismatch":
        if detail.get("ctx", {}).get("pattern") == _CODE_PATTERN:
            return "expected letters, digits and _ . : @ - only, starting with a letter or digit"
        return "not in the expected form"
    return detail["msg"]


def main() -> None:
    # Usage errors are caught here, not by click, so that --json answers them in JSON too.
    try:
        code = app(standalone_mode=False)
    except UsageError as error:
        if "--json" in sys.argv:
            _fail(error.exit_code, "usage_error", error.format_message())
        error.show()
        sys.exit(error.exit_code)
    except ClickException as error:
        _fail(error.exit_code, "usage_error", error.format_message())
    except typer.Abort:
        _fail(1, "aborted", "aborted; nothing was changed")
    except ValidationError as error:
        _fail(2, "invalid_input", _validation_message(error))
    except DomainError as error:
        _fail(3, "refused", error.message, error.rule)
    except DatabaseUnavailable as error:
        _fail(1, "database_unavailable", str(error))
    except DatabaseBusy as error:
        _fail(1, "database_busy", f"{error}. Try again later.")
    except KeyStoreUnavailable as error:
        _fail(1, "key_store_unavailable", str(error))
    except PersistenceError as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        _fail(
            1,
            "event_store_unavailable",  # on PostgreSQL the direct check found it reachable
            (
                f"the event store is busy or unreachable ({first_line}). Try again later; "
                "repeating a command with the same --key records it at most once."
            ),
        )
    except OSError as error:
        what = f"cannot use {error.filename}: " if error.filename else ""
        _fail(1, "os_error", f"{what}{error.strerror or error}")
    except Exception as error:
        if os.environ.get("INTERCEPT_DEBUG"):
            raise
        # A bug, not the user's doing: one line that says so; the traceback is on request.
        _fail(
            1,
            "internal_error",
            f"unexpected {type(error).__name__}: {error} (INTERCEPT_DEBUG=1 shows the traceback)",
        )
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
