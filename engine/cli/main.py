"""Entry point of the `intercept` command: wiring and exit codes.

Exit codes: 0 ok, 2 usage error or invalid input, 3 refused by a domain rule, 1 other.
"""

import sys
from pathlib import Path

import typer
from eventsourcing.persistence import PersistenceError
from pydantic import ValidationError

from domain.errors import DomainError
from engine.cli import (
    audit,
    commands,
    context,
    kafka,
    keys,
    migrate,
    policy,
    queries,
    replay,
    schemas,
    serve,
    status,
)
from engine.cli.demo import demo_command
from engine.cli.output import emit_json, errors
from projections.database import DatabaseBusy

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
        None, help="Projection database URL (default: SQLite under home)."
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
app.command("after-sale")(commands.after_sale)
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


def _fail(code: int, kind: str, message: str, rule: str | None = None) -> None:
    if "--json" in sys.argv:
        emit_json({"error": {"kind": kind, "rule": rule, "message": message}})
    else:
        errors.print(f"error: {message}" + (f" [rule: {rule}]" if rule else ""), markup=False)
    sys.exit(code)


def _validation_message(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "input"
        parts.append(f"{where}: {e['msg']}")
    return "invalid input: " + "; ".join(parts)


def main() -> None:
    # Usage errors (exit 2) and aborts (exit 1) are handled by typer itself.
    try:
        app()
    except ValidationError as error:
        _fail(2, "invalid_input", _validation_message(error))
    except DomainError as error:
        _fail(3, "refused", error.message, error.rule)
    except DatabaseBusy as error:
        _fail(1, "database_busy", f"{error}. Try again later.")
    except PersistenceError as error:
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        _fail(
            1,
            "event_store_unavailable",
            (
                f"the event store is busy or unreachable ({first_line}). Try again later; "
                "repeating a command with the same --key records it at most once."
            ),
        )


if __name__ == "__main__":
    main()
