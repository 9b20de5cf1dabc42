"""`intercept demo`: simulate merchants, carriers and parcels, then show the package center."""

from __future__ import annotations

import os
import random
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from engine import usecases
from engine.cli import context, parse
from engine.cli.output import (
    conflict,
    console,
    emit_json,
    errors,
    line,
    money,
    status,
    table,
    when,
)
from engine.composition import (
    build_carrier_desk,
    build_carrier_gateway,
    build_engine,
    deadline_watch,
    simulated_carriers,
    system_clock,
)

if TYPE_CHECKING:
    from engine import demo

MARK = ".intercept-demo"
"""Left in a demo's home, so that a folder is emptied only if a demo made it."""
SHOWN_CONFLICTS = 10


def demo_command(
    orders: int = typer.Option(200, min=1, max=2_000_000, help="How many orders to simulate."),
    seed: int = typer.Option(7, help="Random seed; the same seed gives the same history."),
    start: str = typer.Option(
        None, help="Simulated start time (ISO 8601); default 3 days ago, or earlier if needed."
    ),
    home: Path = typer.Option(
        None,
        help="Where the demo keeps its data (default: demo/ under INTERCEPT_HOME); emptied first.",
    ),
    kafka: str = typer.Option(None, "--kafka", help="Run through this Kafka broker instead."),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Run the simulation through the carriers and print the package center's summary.

    Merchants request, cancel and charge; the carrier gateway sends each request and
    cancel to a carrier simulator on loopback (every protocol family is spoken), whose
    signed callbacks come back through the callback desk: what carriers said comes from
    the protocols, not from commands the demo writes.

    The demo writes only into its own home, on SQLite, whatever event store and
    projections are configured. On the embedded default unless --kafka is given;
    then commands only write the event store, and the relay and consumer carry the
    events to the projections, on topics of the demo's own so earlier runs don't mix in.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from carriers.simulator import Simulator, SimulatorServer
    from engine import demo
    from engine.automation import Deadlines
    from engine.pipeline import Pipeline

    home = home if home is not None else context.settings().home / "demo"
    now = system_clock()
    begin = parse.instant(start, "--start") if start else _three_days_ago()
    steps = demo.plan(orders, seed, begin)
    if steps and steps[-1].at + demo.DRAIN >= now:
        if start:
            latest = now - demo.span(orders, seed)
            raise typer.BadParameter(
                f"--start {start}: {orders} orders run until {when(steps[-1].at + demo.DRAIN)}, in the "
                f"future; start at or before {when(latest)}"
            )
        begin = _midnight(now - demo.span(orders, seed))
        steps = demo.plan(orders, seed, begin)
    _empty(home)
    clock = demo.SimulatedClock(begin)
    # Its own home and SQLite, never the configured databases: fake intercepts must not
    # mix with real ones.
    settings = context.settings(home=home, event_store=None, projections=None)
    settings = settings.model_copy(update={"kafka_bootstrap": None})
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
    (home / MARK).parent.mkdir(parents=True, exist_ok=True)
    simulator = Simulator({}, clock, seed=seed, timing=demo.DEMO_TIMING)
    server = SimulatorServer(simulator).start()
    os.environ.update(demo.demo_secrets())
    carriers_file = home / "carriers.toml"
    carriers_file.write_text(demo.carriers_toml(server.port, "http://127.0.0.1"))
    settings = settings.model_copy(update={"carriers_file": carriers_file})
    simulator.carriers.update(simulated_carriers(settings, clock))
    engine = build_engine(settings, clock=clock)
    (home / MARK).write_text("made by `intercept demo`; the next demo empties this folder\n")
    gateway = build_carrier_gateway(settings, engine, rng=random.Random(seed))
    desk = build_carrier_desk(settings, engine.parcel_intercepts, clock)
    world = demo.CarrierWorld(gateway, desk, simulator, clock, engine.execute)
    deadlines = Deadlines(engine, deadline_watch(settings), clock)
    pipeline = Pipeline(settings).start() if kafka else None
    try:
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=errors,
            disable=json or not errors.is_terminal,  # a bar only where someone watches
            transient=True,
        ) as progress:
            task = progress.add_task("steps", total=len(steps))
            report = demo.run_with_carriers(
                steps,
                world,
                clock,
                on_step=lambda: progress.advance(task),
                after_report=lambda report: _automatic(engine, report),
                deadlines=deadlines.run_once,
            )
        if pipeline:
            pipeline.wait_until_projected(engine)
        else:
            engine.catch_up()
    finally:
        if pipeline:
            pipeline.close()
        server.stop()
        gateway.close()
        if desk is not None:
            desk.close()
    dispatched = gateway.store.counts()
    journey = usecases.carrier_journey(engine)
    carriers = {
        "dispatched": dispatched,
        "checked": world.report.checked,
        "refused_at_check": dict(world.report.refused_at_check),
        "callbacks": world.report.callbacks,
        **journey,
    }
    summary = usecases.summary(engine)
    engine.catch_up_after_sales()
    for record in usecases.list_after_sales(engine, None, limit=1_000_000):
        report.after_sales[record["stopped_by"] or record["auto_rule"]] += 1
    conflicts = usecases.list_intercepts(
        engine,
        usecases.ListRequest(since=begin, conflicts_only=True, limit=SHOWN_CONFLICTS),
        now,
    ).rows
    where = {
        "home": str(home),
        "event_store": str(settings.event_store_path),
        "projections": str(settings.projections_path),
        "topic": settings.topic if kafka else None,
    }
    if json:
        return emit_json(
            {
                **where,
                "start": begin.isoformat(),
                "steps": report.steps,
                "summary": summary,
                "refusals": dict(report.refusals),
                "after_sales": dict(report.after_sales),
                "stalled": dict(deadlines.recorded),
                "carriers": carriers,
                "conflicts": conflicts,  # the first SHOWN_CONFLICTS; summary has them all
                "conflicts_not_shown": sum(summary["conflicts"].values()) - len(conflicts),
            }
        )
    _print(report, summary, conflicts, where, begin)
    _print_stalled(deadlines.recorded)
    _print_carriers(carriers, summary)


def _automatic(engine, report) -> object:
    """The automatic rule's turn after a report: the intercept it requested, or None."""
    engine.auto_rule().run_until_idle()
    return engine.after_sale(report.merchant_id, report.after_sale_id).intercept_id


def _three_days_ago() -> datetime:
    return _midnight(datetime.now(UTC)) - timedelta(days=3)


def _midnight(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _empty(home: Path) -> None:
    """Empty a former demo's home; refuse a folder that holds anything else."""
    if home.exists():
        if not home.is_dir() or (any(home.iterdir()) and not (home / MARK).exists()):
            raise typer.BadParameter(
                f"--home {home} is not empty and was not made by `intercept demo`: "
                "the demo empties its home first, so give it a new or former demo folder"
            )
        shutil.rmtree(home)


def _print(
    report: demo.DemoReport, summary: dict, conflicts: list, where: dict, begin: datetime
) -> None:
    home = where["home"]
    console.print(
        f"simulated {report.steps} commands from {when(begin)}; data in {home} "
        f"(its own SQLite files{', topic ' + where['topic'] if where['topic'] else ''}; "
        "no configured database was touched)",
        markup=False,
    )
    console.print(
        table(
            "package center",
            ["status", "intercepts"],
            [[s, n] for s, n in summary["by_status"].items()] + [["total", summary["intercepts"]]],
        )
    )
    console.print(f"fees recorded: {money(summary['fees_minor'], 'CNY')}", markup=False)
    console.print(
        table(
            "refused by rule",
            ["rule", "commands"],
            [[r, n] for r, n in sorted(report.refusals.items())],
        )
    )
    automatic = report.after_sales.get("requested", 0)
    console.print(
        table(
            f"after-sale reports: {sum(report.after_sales.values())}, "
            f"automatic intercepts: {automatic}",
            ["automatic rule", "after-sales"],
            [["requested", automatic]]
            + [
                [f"stopped by {r}", n]
                for r, n in sorted(report.after_sales.items())
                if r != "requested"
            ],
        )
    )
    total = sum(summary["conflicts"].values())
    console.print("conflicts (the merchant must act):", markup=False)
    for c in conflicts:
        console.print(
            line(
                f"  {c['intercept_id']}",
                c["merchant_id"],
                f"{c['carrier']} {c['tracking_no']}",
                status(c["status"]),
                conflict(c["conflict"]),
            )
        )
    if total > len(conflicts):
        console.print(
            f"  ... and {total - len(conflicts)} more: "
            f"intercept --home {home} list --conflicts --since {begin.date().isoformat()} --limit 1000",
            markup=False,
        )
    console.print(
        f"{total} intercept(s) with conflicts: "
        + (", ".join(f"{k}={v}" for k, v in summary["conflicts"].items()) or "none"),
        markup=False,
    )


def _print_stalled(recorded) -> None:
    console.print(
        table(
            f"deadlines passed (InterceptStalled): {sum(recorded.values())}",
            ["deadline", "intercepts"],
            [[d, recorded.get(d, 0)] for d in ("acceptance", "outcome")],
        )
    )


def _print_carriers(carriers: dict, summary: dict) -> None:
    dispatched = carriers["dispatched"]
    sent = sum(n for state, n in dispatched.items() if state in ("accepted", "rejected"))
    rows = [
        ["requests dispatched to carriers", sent],
        ["  accepted", dispatched.get("accepted", 0)],
        *[[f"  rejected: {code}", n] for code, n in carriers["rejected"].items()],
        ["  withdrawn (cancelled before sending)", dispatched.get("withdrawn", 0)],
        ["refused when the merchant checked first", sum(carriers["refused_at_check"].values())],
        ["intercepted (the carrier stopped the parcel)", carriers["intercepted"]],
        ["  returning", carriers["returning"]],
        ["  returned to the sender", carriers["returned"]],
        ["  delivered to the new address", carriers["delivered_to_new_address"]],
        ["released after a cancel", carriers["released"]],
        ["cancels that crossed a success", summary["conflicts"].get("intercepted_after_cancel", 0)],
        ["signed callbacks taken", carriers["callbacks"]],
        *[[f"flagged: {flag}", n] for flag, n in carriers["flags"].items()],
    ]
    console.print(table("carriers (simulated, through the gateway and callbacks)", ["", "n"], rows))
