"""`intercept status`: every reader's position and lag on one screen, for people and cron.

Exit 0 when everything is within its threshold, 4 when something is beyond one (each
is named under `problems`), 1 when a database cannot be read. The thresholds are
options and environment variables, so a monitor can tune them without a wrapper.
"""

from datetime import UTC, datetime

import typer

from engine import usecases
from engine.cli import context
from engine.cli.output import console, emit_json, table
from engine.composition import build_observer

BEYOND_THRESHOLD = 4


def _dead_letters(settings) -> int | None:
    """Messages on the DLQ (Kafka mode), read from its start: no end-offset query involved."""
    if settings.embedded:
        return None
    return len(usecases.dead_letters(settings))


def _age_hours(requested_at: str | None, now: datetime) -> float | None:
    if not requested_at:
        return None
    return round((now - datetime.fromisoformat(requested_at)).total_seconds() / 3600, 1)


def status(
    json: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
    max_lag: int = typer.Option(
        1000,
        envvar="INTERCEPT_STATUS_MAX_LAG",
        help="Most events the relay or the projections may lag.",
    ),
    max_relay_seconds: float = typer.Option(
        60.0,
        envvar="INTERCEPT_STATUS_MAX_RELAY_SECONDS",
        help="Longest an event may wait for the relay.",
    ),
    max_pending: int = typer.Option(
        100, envvar="INTERCEPT_STATUS_MAX_PENDING", help="Most early events waiting."
    ),
    max_dead_letters: int = typer.Option(
        0, envvar="INTERCEPT_STATUS_MAX_DEAD_LETTERS", help="Most messages on the DLQ."
    ),
) -> None:
    """Where every reader is and what is stuck; exit 4 when something is beyond a threshold."""
    settings = context.settings()
    observer = build_observer(settings)
    readings = observer.readings(settings.embedded)
    dead = _dead_letters(settings)
    now = datetime.now(UTC)
    oldest = readings.oldest_open_intercept
    problems = []
    if (readings.relay_lag_events or 0) > max_lag:
        problems.append(f"relay lags {readings.relay_lag_events} events (max {max_lag})")
    if (readings.relay_lag_seconds or 0) > max_relay_seconds:
        problems.append(
            f"relay is {readings.relay_lag_seconds:.0f}s behind (max {max_relay_seconds:.0f}s)"
        )
    if readings.projection_lag_events > max_lag:
        problems.append(f"projections lag {readings.projection_lag_events} events (max {max_lag})")
    if (readings.pending_events or 0) > max_pending:
        problems.append(f"{readings.pending_events} pending events (max {max_pending})")
    if dead is not None and dead > max_dead_letters:
        problems.append(f"{dead} dead letters (max {max_dead_letters})")
    report = {
        "mode": "embedded" if settings.embedded else "kafka",
        "topic": None if settings.embedded else settings.topic,
        "group": None if settings.embedded else settings.group_id,
        **readings.as_dict(),
        "dead_letters": dead,
        "oldest_open_intercept_age_hours": _age_hours(oldest and oldest["requested_at"], now),
        "problems": problems,
        "ok": not problems,
    }
    if json:
        emit_json(report)
    else:
        _print(report)
    if problems:
        raise typer.Exit(BEYOND_THRESHOLD)


def _print(report: dict) -> None:
    rows = [["event store (head)", report["head"], "", ""]]
    if report["mode"] == "kafka":
        rows.append(
            [
                "relay",
                report["relay_position"],
                report["relay_lag_events"],
                f"{report['relay_lag_seconds']:.1f}s",
            ]
        )
        for p in report["partitions"]:
            rows.append(
                [
                    f"{report['group']} [{p['partition']}]",
                    p["position"],
                    p["lag"],
                    f"end {p['end']}",
                ]
            )
    if report["catch_up_position"] is not None:
        rows.append(["catch-up", report["catch_up_position"], report["catch_up_lag_events"], ""])
    console.print(table("readers", ["reader", "position", "lag (events)", ""], rows))
    oldest = report["oldest_open_intercept"]
    console.print(f"pending events: {report['pending_events']}")
    if report["dead_letters"] is not None:
        console.print(f"dead letters: {report['dead_letters']}")
    if oldest:
        console.print(
            f"oldest open intercept: {oldest['intercept_id']} ({oldest['status']}, requested "
            f"{oldest['requested_at']}, {report['oldest_open_intercept_age_hours']} h ago)",
            markup=False,
        )
    else:
        console.print("oldest open intercept: none")
    for problem in report["problems"]:
        console.print(f"[red]beyond threshold:[/red] {problem}")
    if not report["problems"]:
        console.print("ok")
