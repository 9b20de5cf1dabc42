"""The carrier gateway as its own process, for a parent to SIGKILL at random points.

Run as `python -m tests.faults.carrier_gateway_worker` with the engine's settings (and
INTERCEPT_CARRIERS_FILE with its secrets) in the environment. Its retries are quick, so
that many kills fit in a short test.
"""

import threading

from engine.carrier_gateway import Backoff
from engine.composition import build_carrier_gateway, build_engine
from engine.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    engine = build_engine(settings)
    gateway = build_carrier_gateway(
        settings, engine, backoff=Backoff(first=0.05, cap=0.2, attempts=50, within=120)
    )
    print("ready", flush=True)
    gateway.run(threading.Event(), idle=0.02)


if __name__ == "__main__":
    main()
