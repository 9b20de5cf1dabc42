"""`intercept carriers run | simulate | list` and `intercept check`: the engine's carrier side."""

import logging
import threading

import typer

from domain.vocabulary import Action, ParcelStage
from engine import usecases
from engine.cli import context, parse
from engine.cli.kafka import LOG_FORMAT, _log_to_stderr, _run_threads, gateway_worker
from engine.cli.output import console, emit_json, table
from engine.composition import (
    build_carrier_desk,
    build_engine,
    build_simulator,
    carrier_catalog,
    carrier_links,
)
from engine.logs import LogFormat

app = typer.Typer(help="Dispatch to carriers, and a carrier simulator.", no_args_is_help=True)
log = logging.getLogger("intercept")


@app.command("run")
def run(log_format: LogFormat = LOG_FORMAT) -> None:
    """Send each new request, and each cancel of an accepted one, to its carrier, until stopped.

    Follows the event store's log from the gateway's stored position; carriers without a
    connection are skipped (report their outcomes with `intercept carrier`).
    """
    settings = context.settings()
    _log_to_stderr("carriers", log_format)
    work = gateway_worker(settings)
    if work is None:
        raise typer.BadParameter(
            "no carrier has a connection: give INTERCEPT_CARRIERS_FILE with one (docs/carriers.md)"
        )
    _run_threads({"carriers": work})


@app.command("simulate")
def simulate(
    port: int = typer.Option(..., min=0, max=65535, help="Port on 127.0.0.1 (0 picks one)."),
    seed: int = typer.Option(7, help="The same seed gives the same carriers."),
    scale: float = typer.Option(
        1 / 600,
        min=0,
        help="Carrier time per real second, as a factor of the simulated delays (hours "
        "become seconds at the default).",
    ),
    log_format: LogFormat = LOG_FORMAT,
) -> None:
    """Serve simulated carriers on loopback, in each connected carrier's protocol.

    A stand-in for carriers nobody can reach from here: it speaks their published
    protocols (docs/carriers.md) with the credentials INTERCEPT_CARRIERS_FILE names, and
    pushes signed callbacks to each carrier's callback_url. GET /_simulator/seen says what
    it received.
    """
    from carriers.simulator import SimulatorServer, Timing, push_callbacks

    settings = context.settings()
    _log_to_stderr("simulate", log_format)
    simulator = build_simulator(settings, seed=seed, timing=Timing().scaled(scale))
    if not simulator.carriers:
        raise typer.BadParameter("no carrier has a connection to simulate (docs/carriers.md)")
    server = SimulatorServer(simulator, port).start()
    log.info(
        "carrier simulator on http://127.0.0.1:%d/{CODE}: %s (seed %d)",
        server.port,
        ", ".join(f"{c} ({s.protocol})" for c, s in sorted(simulator.carriers.items())),
        seed,
    )

    def callbacks(stop: threading.Event) -> None:
        try:
            push_callbacks(simulator, stop)
        finally:
            server.stop()

    _run_threads({"simulator": callbacks})


@app.command("list")
def list_(json: bool = typer.Option(False, "--json")) -> None:
    """The carrier catalog: each carrier's protocol and whether it is connected."""
    settings = context.settings()
    connected = carrier_links(settings)
    rows = [
        {
            "code": code,
            "name": entry.name,
            "adapter": entry.adapter,
            "dispatch": "connected" if code in connected else "not connected",
            "actions": sorted(a.value for a in entry.capabilities.actions),
            "quotes_fees": entry.capabilities.quotes_fees,
        }
        for code, entry in carrier_catalog(settings).entries.items()
    ]
    if json:
        return emit_json({"carriers": rows})
    console.print(
        table(
            "carriers",
            ["code", "name", "adapter", "dispatch"],
            [[r["code"], r["name"], r["adapter"] or "-", r["dispatch"]] for r in rows],
        )
    )


def check(
    carrier: str = typer.Option(..., help="Carrier code, e.g. ZTO."),
    tracking: str = typer.Option(..., help="Tracking number."),
    action: Action = typer.Option(Action.RETURN_TO_SENDER, help="What the carrier would do."),
    merchant: str = typer.Option(
        None, help="Also estimate success and fee from this merchant's own history."
    ),
    picked_up_at: str = typer.Option(
        None, help="With --merchant: when the carrier picked the parcel up (ISO 8601), if known."
    ),
    json: bool = typer.Option(False, "--json"),
) -> None:
    """Ask the carrier whether a parcel can be intercepted now: stage, verdict, quoted fee.

    With --merchant, the answer carries the risk estimate `intercept risk` gives for the
    carrier, the action, the stage the carrier reported and the time since pickup
    (docs/analytics.md).

    Exit 0 when it can, 3 when a rule or the carrier refuses it, 1 when the carrier has
    no connection to ask.
    """
    settings = context.settings()
    code = carrier.upper()
    since = parse.since_pickup(picked_up_at)
    entry = carrier_catalog(settings).entry(code)
    if not entry.supports(action):
        raise typer.BadParameter(f"carrier {code} does not offer {action.value}")
    engine = build_engine(settings)
    try:
        desk = build_carrier_desk(settings, engine.parcel_intercepts)
        if desk is None:
            from engine.carrier_gateway import Eligibility

            found = Eligibility(code, tracking, action.value, connected=False)
        else:
            try:
                found = desk.eligibility(code, tracking, action.value)
            finally:
                desk.close()
        risk = None
        if merchant is not None:
            stage = found.stage if found.stage in {s.value for s in ParcelStage} else "unknown"
            risk = usecases.risk_estimate(engine, merchant, code, action.value, stage, since)
    finally:
        engine.close()
    said = found.as_dict() | ({"risk": risk} if risk is not None else {})
    if json:
        emit_json(said)
    else:
        verdict = {True: "can be intercepted", False: "cannot be intercepted", None: "unknown"}
        console.print(
            f"{code} {tracking}: {verdict[found.allowed]} (stage {found.stage})"
            + (f" [rule: {found.rule}]" if found.rule else "")
            + (f"; quoted fee {found.fee_minor / 100:.2f}" if found.fee_minor is not None else "")
            + (f"; flags: {', '.join(found.flags)}" if found.flags else ""),
            markup=False,
        )
        if said["message"] and found.allowed is not True:
            console.print(said["message"], markup=False)
        if risk is not None:
            console.print(
                f"{merchant}'s history ({risk['cases']} decided case(s)): "
                + (
                    f"success probability {risk['success_probability'] * 100:.1f}%"
                    if risk["enough_history"]
                    else risk["note"]
                ),
                markup=False,
            )
    if found.allowed is None:
        raise typer.Exit(1)
    if not found.allowed:
        raise typer.Exit(3)
