"""Carriers for tests: a simulator on loopback, the carriers file naming it, the gateway.

The simulator stands in for carriers nobody can reach from here; everything else is the
real engine: its gateway over real HTTP, and (with `serve`) the API taking callbacks.
"""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from carriers.simulator import (
    Simulator,
    SimulatorServer,
    Timing,
    push_callbacks,
    simulated_carriers_file,
)
from domain.commands import RequestIntercept, SetPolicy
from engine.settings import Settings

PROTOCOL_OF = {"direct": "ZTO", "aggregator": "YTO", "generic": "JD"}
"""One carrier per protocol family."""

FAST = Timing(
    scan=(0.6, 1.2),
    lag=(0.02, 0.15),
    returning_after=0.2,
    returned_after=0.5,
    retry_after=0.2,
    hold=0.3,
)
"""Carrier time for tests: a scan within about a second, callbacks within a fraction."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def secrets() -> dict[str, str]:
    return {secret_env(code): f"test-secret-{code.lower()}" for code in PROTOCOL_OF.values()}


def secret_env(code: str) -> str:
    return f"TEST_{code}_SECRET"


def carriers_toml(simulator_port: int, api_port: int, timeout: float = 2.0) -> str:
    """The test carriers, one per protocol, connected to the simulator."""
    callbacks = f"http://127.0.0.1:{api_port}"
    codes = {code: protocol for protocol, code in PROTOCOL_OF.items()}
    return simulated_carriers_file(codes, simulator_port, callbacks, secret_env, timeout)


@dataclass
class Rig:
    simulator: Simulator
    server: SimulatorServer
    carriers_file: Path
    api_port: int

    def settings(self, home: Path) -> Settings:
        return Settings(home=home, carriers_file=self.carriers_file)

    def env(self) -> dict[str, str]:
        return {"INTERCEPT_CARRIERS_FILE": str(self.carriers_file), **secrets()}

    def stop(self) -> None:
        self.server.stop()


def rig(folder: Path, monkeypatch, seed: int = 5, **options) -> Rig:
    """A simulator serving every protocol on loopback, and a carriers file naming it."""
    from engine.composition import simulated_carriers

    for name, value in secrets().items():
        monkeypatch.setenv(name, value)
    options.setdefault("timing", FAST)
    simulator = Simulator({}, lambda: datetime.now(UTC), seed=seed, **options)
    server = SimulatorServer(simulator).start()
    api_port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    carriers_file = folder / "carriers.toml"
    carriers_file.write_text(carriers_toml(server.port, api_port))
    simulator.carriers.update(
        simulated_carriers(Settings(home=folder, carriers_file=carriers_file))
    )
    return Rig(simulator, server, carriers_file, api_port)


def allow(engine: Any, *carriers: str, merchant: str = "m1") -> None:
    """The merchant's policy: these carriers, any amount up to 10,000 yuan."""
    engine.execute(
        SetPolicy(
            merchant_id=merchant,
            min_amount_minor=0,
            max_amount_minor=10**6,
            carriers=frozenset(carriers),
            actor="ops",
            occurred_at=datetime.now(UTC),
        )
    )


def request(engine: Any, carrier: str, tracking: str, **changes: Any) -> UUID:
    """A merchant's request to intercept the parcel (10 yuan, the buyer's refund); its id."""
    fields: dict[str, Any] = {
        "merchant_id": "m1",
        "order_id": f"o-{tracking}",
        "tracking_no": tracking,
        "carrier": carrier,
        "amount_minor": 1000,
        "request_reason": "buyer_refund",
        "key": f"k-{tracking}",
        "actor": "m1-staff",
        "occurred_at": datetime.now(UTC),
    }
    identity: UUID = engine.execute(RequestIntercept(**{**fields, **changes})).state.id
    return identity


@contextmanager
def serving(the_rig: Rig, home: Path) -> Iterator[tuple[Any, Any]]:
    """`intercept serve` taking the carriers' callbacks, the carrier gateway following the log
    and the simulator pushing its callbacks (each in a thread of its own); all stopped on
    leaving, the simulator too."""
    from engine.composition import build_carrier_gateway, build_engine
    from tests.e2e import api_server

    server = api_server.start(home, env=the_rig.env(), port=the_rig.api_port, timeout=120)
    # The gateway's thread gets an engine of its own: one connection is not for two threads.
    settings = the_rig.settings(home)
    gateway = build_carrier_gateway(settings, build_engine(settings))
    stop = threading.Event()
    threads = [
        threading.Thread(target=gateway.run, args=(stop, 0.05), daemon=True),
        threading.Thread(target=push_callbacks, args=(the_rig.simulator, stop), daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        yield server, gateway
    finally:
        stop.set()
        for t in threads:
            t.join(5)
        server.stop()
        the_rig.stop()
        gateway.close()
