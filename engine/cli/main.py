"""Entry point of the `intercept` command: wiring and exit codes.

Exit codes: 0 ok, 2 usage error or invalid input, 3 refused by a domain rule, 1 other.
"""

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

# typer carries its own click; its usage errors are these classes, not click's.
from typer._click.exceptions import ClickException, UsageError

from engine.cli import options
from engine.cli.as_json import emit_json
from engine.cli.lazy import Entry, lazy_group
from engine.settings import masked

if TYPE_CHECKING:
    from pydantic import ValidationError

# Every command, in the order `--help` lists them: where it is, and what the help says of
# it (its own help's first paragraph; tests/e2e/test_cli_imports.py holds the two equal
# and every command module's commands registered). Only the command run is imported.
COMMANDS = {
    "request": Entry(
        "engine.cli.commands:request",
        "Ask the carrier to intercept a parcel; prints the intercept id and status.",
    ),
    "cancel": Entry(
        "engine.cli.commands:cancel",
        "Cancel intercepts. Irreversible: a cancelled intercept can never be reopened.",
    ),
    "carrier": Entry(
        "engine.cli.commands:carrier",
        "Record a carrier's report; a report crossing a cancel is kept and flagged.",
    ),
    "fee": Entry("engine.cli.commands:fee", "Record a fee the intercept caused."),
    "evidence": Entry(
        "engine.cli.commands:evidence",
        "Attach evidence (screenshot, chat log, call record). Evidence is append-only.",
    ),
    "list": Entry(
        "engine.cli.queries:list_",
        "The package center: intercepts newest first, filtered, paginated.",
    ),
    "show": Entry(
        "engine.cli.queries:show",
        "One intercept: its state, whether it can still be cancelled, and its whole timeline.",
    ),
    "demo": Entry(
        "engine.cli.demo:demo_command",
        "Run the simulation through the carriers and print the package center's summary.",
    ),
    "serve": Entry(
        "engine.cli.serve:serve",
        "Serve the HTTP API: merchant commands, package-center queries, carrier callbacks.",
    ),
    "relay": Entry(
        "engine.cli.kafka:relay",
        "Publish the event store's events to Kafka until stopped (SIGINT/SIGTERM).",
    ),
    "consume": Entry(
        "engine.cli.kafka:consume",
        "Feed the projections from Kafka in a consumer group until stopped.",
    ),
    "run": Entry(
        "engine.cli.kafka:run",
        "Relay, consumer, automation, webhooks and, when a carrier is connected, the carrier\n"
        "gateway in one process.",
    ),
    "migrate": Entry(
        "engine.cli.migrate:migrate",
        "Create or upgrade the event store and projection tables. Safe to run again.",
    ),
    "replay": Entry(
        "engine.cli.replay:replay",
        "Rebuild every projection into a fresh database and swap it in atomically.",
    ),
    "status": Entry(
        "engine.cli.status:status",
        "Where every reader is and what is stuck; exit 4 when something is beyond a threshold.",
    ),
    "check": Entry(
        "engine.cli.carriers:check",
        "Ask the carrier whether a parcel can be intercepted now: stage, verdict, quoted fee.",
    ),
    "erase": Entry(
        "engine.cli.erase:erase",
        "Erase personal data: destroy the subjects' keys, delete the buyer's evidence files,\n"
        "rewrite the projections to [erased] and record an Erased fact. Safe to run again.",
    ),
    "rewrap-keys": Entry(
        "engine.cli.erase:rewrap_keys",
        "Wrap every subject key under the current (first) master key of INTERCEPT_MASTER_KEYS.",
    ),
    "stats": Entry(
        "engine.cli.stats:stats",
        "Counts, rates, reasons, fees and latency percentiles over whole days of request\n"
        "in the package center's zone (INTERCEPT_TIMEZONE), the days `intercept list` filters by.",
    ),
    "export": Entry(
        "engine.cli.export:export",
        "Write the package center's rows (the list's filters), newest first, one page in memory.",
    ),
    "risk": Entry(
        "engine.cli.risk:risk",
        "The estimated success probability and likely fee of an intercept, from the merchant's\n"
        "own decided intercepts of this carrier, action, parcel stage and time since pickup (or\n"
        "of every time since pickup, when those are too few); or the table of rates.",
    ),
    "policy": Entry("engine.cli.policy:app", "Set or show a merchant's intercept policy."),
    "after-sale": Entry(
        "engine.cli.after_sales:app",
        "After-sale records (report, show, list), or `after-sale ID STATUS` on an intercept.",
    ),
    "webhooks": Entry(
        "engine.cli.webhooks:app", "Merchant webhooks: endpoints, deliveries, the dispatcher."
    ),
    "automation": Entry(
        "engine.cli.webhooks:automation", "The automatic intercept rule and the policy deadlines."
    ),
    "keys": Entry("engine.cli.keys:app", "Create, list and revoke API keys for `intercept serve`."),
    "dlq": Entry("engine.cli.kafka:dlq", "Inspect and redrive the dead-letter topic."),
    "audit": Entry(
        "engine.cli.audit:audit", "Verify the event history's hash chain and export histories."
    ),
    "schemas": Entry("engine.cli.schemas:app", "The published event contracts under schemas/."),
    "carriers": Entry("engine.cli.carriers:app", "Dispatch to carriers, and a carrier simulator."),
}

app = typer.Typer(
    name="intercept",
    help="Event-sourced engine for parcel intercept requests. A cancel is irreversible.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # click's own help, not rich's: rich's panels cost the help twice its plain start
    # (docs/performance.md); every command and its whole summary are still listed.
    rich_markup_mode=None,
    cls=lazy_group(COMMANDS),
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
    options.configure(home=home, event_store=event_store, projections=projections, kafka=kafka)


def _fail(code: int, kind: str, message: str, rule: str | None = None) -> None:
    message = masked(message)
    if "--json" in sys.argv:
        emit_json({"error": {"type": kind, "rule": rule, "message": message}})
    else:
        # A plain line, as the commands' console prints it when nothing is styled.
        sys.stderr.write(f"error: {message}" + (f" [rule: {rule}]" if rule else "") + "\n")
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
    "carrier_retry_attempts": "INTERCEPT_CARRIER_RETRY_ATTEMPTS",
    "carrier_retry_horizon": "INTERCEPT_CARRIER_RETRY_HORIZON",
    "carrier_retry_base": "INTERCEPT_CARRIER_RETRY_BASE",
    "carrier_retry_cap": "INTERCEPT_CARRIER_RETRY_CAP",
}
_CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]*$"


def _validation_message(error: "ValidationError") -> str:
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
    except Exception as error:
        if not _failed_as_known(error):
            _unexpected(error)
    sys.exit(code if isinstance(code, int) else 0)


def _persistence(error: Exception) -> None:
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    _fail(
        1,
        "event_store_unavailable",  # on PostgreSQL the direct check found it reachable
        (
            f"the event store is busy or unreachable ({first_line}). Try again later; "
            "repeating a command with the same --key records it at most once."
        ),
    )


# The failures a command may end with, by the module and name of their class, in the order
# they are told apart. A class whose module no command imported cannot have been raised:
# telling them apart imports nothing (pydantic's ValidationError lives in pydantic_core).
_KNOWN_FAILURES = (
    (
        "pydantic_core",
        "ValidationError",
        lambda e: _fail(2, "invalid_input", _validation_message(e)),
    ),
    ("domain.errors", "DomainError", lambda e: _fail(3, "refused", e.message, e.rule)),
    (
        "engine.postgres_env",
        "DatabaseUnavailable",
        lambda e: _fail(1, "database_unavailable", str(e)),
    ),
    (
        "storage.database",
        "DatabaseBusy",
        lambda e: _fail(1, "database_busy", f"{e}. Try again later."),
    ),
    ("engine.keystore", "KeyStoreUnavailable", lambda e: _fail(1, "key_store_unavailable", str(e))),
    ("eventsourcing.persistence", "PersistenceError", _persistence),
)


def _failed_as_known(error: Exception) -> bool:
    for module, name, answer in _KNOWN_FAILURES:
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(error, getattr(loaded, name)):
            answer(error)
            return True
    return False


def _unexpected(error: Exception) -> None:
    if isinstance(error, OSError):
        what = f"cannot use {error.filename}: " if error.filename else ""
        _fail(1, "os_error", f"{what}{error.strerror or error}")
    if os.environ.get("INTERCEPT_DEBUG"):
        raise error
    # A bug, not the user's doing: one line that says so; the traceback is on request.
    _fail(
        1,
        "internal_error",
        f"unexpected {type(error).__name__}: {error} (INTERCEPT_DEBUG=1 shows the traceback)",
    )


if __name__ == "__main__":
    main()
