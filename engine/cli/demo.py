"""`intercept demo`: simulate merchants, carriers and parcels, then show the package center."""

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from engine import demo
from engine.cli import context, parse
from engine.cli.output import console, emit_json, money, table
from engine.composition import build_engine
from engine.pipeline import Pipeline
from projections import queries


def demo_command(
    orders: int = typer.Option(200, min=1, max=2_000_000, help="How many orders to simulate."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same history."),
    start: str = typer.Option(None, help="Simulated start time (ISO 8601); default 3 days ago."),
    home: Path = typer.Option(
        Path("var/demo"), help="Where the demo keeps its data; emptied first."
    ),
    kafka: str = typer.Option(None, "--kafka", help="Run through this Kafka broker instead."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Run the simulation and print the package center's summary.

    On the embedded default unless --kafka is given; then commands only write the
    event store, and the relay and consumer carry the events to the projections,
    on topics of the demo's own so earlier runs don't mix in.
    """
    begin = parse.instant(start, "--start") if start else _three_days_ago()
    if home.exists():
        shutil.rmtree(home)
    clock = demo.SimulatedClock(begin)
    settings = context.settings(home=home)
    if kafka:
        run_id = uuid.uuid4().hex[:8]
        settings = settings.model_copy(
            update={
                "kafka_bootstrap": kafka,
                "topic": f"intercept.demo.{run_id}.events",
                "dlq_topic": f"intercept.demo.{run_id}.events.dlq",
                "group_id": f"demo-{run_id}",
            }
        )
    engine = build_engine(settings, clock=clock)
    pipeline = Pipeline(settings).start() if kafka else None
    steps = demo.plan(orders, seed, begin)
    try:
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=json,
            transient=True,
        ) as progress:
            task = progress.add_task("steps", total=len(steps))
            report = demo.run(steps, engine.execute, clock, on_step=lambda: progress.advance(task))
        if pipeline:
            pipeline.wait_until_projected(engine)
        else:
            engine.catch_up()
    finally:
        if pipeline:
            pipeline.close()
    summary = queries.summary(engine.db)
    conflicts = queries.list_intercepts(
        engine.db, queries.Filters(conflicts_only=True), limit=10
    ).rows
    if json:
        return emit_json(
            {
                "home": str(home),
                "steps": report.steps,
                "summary": summary,
                "refusals": dict(report.refusals),
                "conflicts": conflicts,
            }
        )
    _print(report, summary, conflicts, home)


def _three_days_ago() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=3)


def _print(report: demo.DemoReport, summary: dict, conflicts: list, home: Path) -> None:
    console.print(f"simulated {report.steps} commands; data in {home}")
    console.print(
        table(
            "package center",
            ["status", "intercepts"],
            [[s, n] for s, n in summary["by_status"].items()] + [["total", summary["intercepts"]]],
        )
    )
    console.print(f"fees recorded: {money(summary['fees_minor'], 'CNY')}")
    console.print(
        table(
            "refused by rule",
            ["rule", "commands"],
            [[r, n] for r, n in sorted(report.refusals.items())],
        )
    )
    console.print("conflicts (the merchant must act):")
    for c in conflicts:
        console.print(
            f"  {c['intercept_id']}  {c['merchant_id']}  {c['carrier']} {c['tracking_no']}  "
            f"{c['status']}  {c['conflict']}",
            markup=False,
            soft_wrap=True,
        )
    total = sum(summary["conflicts"].values())
    console.print(
        f"{total} intercept(s) with conflicts: "
        + (", ".join(f"{k}={v}" for k, v in summary["conflicts"].items()) or "none")
    )
