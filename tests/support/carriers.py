"""Carriers for tests: a simulator on loopback, the carriers file naming it, the gateway.

The simulator stands in for carriers nobody can reach from here; everything else is the
real engine: its gateway over real HTTP, and (with `serve`) the API taking callbacks.
"""

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from carriers.simulator import Simulator, SimulatorServer, Timing
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
    return {f"TEST_{code}_SECRET": f"test-secret-{code.lower()}" for code in PROTOCOL_OF.values()}


def carriers_toml(simulator_port: int, api_port: int, timeout: float = 2.0) -> str:
    lines = []
    for protocol, code in PROTOCOL_OF.items():
        lines += [
            "[[carrier]]",
            f'code = "{code}"',
            f'name = "{code} (simulated)"',
            f'adapter = "{protocol}"',
            "[carrier.capabilities]",
            "quotes_fees = true",
            "[carrier.connection]",
            f'base_url = "http://127.0.0.1:{simulator_port}/{code}"',
            f'secret_env = "TEST_{code}_SECRET"',
            f'callback_url = "http://127.0.0.1:{api_port}/v1/carriers/{code}/callback"',
            f"timeout = {timeout}",
            "",
        ]
    return "\n".join(lines)


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
