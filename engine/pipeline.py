"""Relay and projection consumer running side by side in threads of one process."""

import threading
import time
from dataclasses import dataclass, field

from domain.events import InterceptEvent
from engine.composition import Engine, build_engine, build_projection_consumer, build_relay
from engine.settings import Settings
from projections import store as projection_store


@dataclass
class Pipeline:
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list = field(default_factory=list)

    def __post_init__(self) -> None:
        # Each side gets its own engine: its own connections, as separate processes would.
        self.relay = build_relay(self.settings, build_engine(self.settings))
        self.consumer_engine = build_engine(self.settings)
        self.consumer = build_projection_consumer(self.settings, self.consumer_engine)
        self.threads = [
            threading.Thread(target=self._guard, args=(self.relay.run,), name="relay", daemon=True),
            threading.Thread(
                target=self._guard, args=(self.consumer.run,), name="consumer", daemon=True
            ),
        ]

    def _guard(self, work) -> None:
        try:
            work(self.stop)
        except BaseException as error:  # noqa: BLE001 - surfaced by check()
            self.failures.append(error)
            self.stop.set()

    def start(self) -> "Pipeline":
        for thread in self.threads:
            thread.start()
        return self

    def check(self) -> None:
        if self.failures:
            raise self.failures[0]

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)

    def wait_until_projected(self, writer: Engine, timeout: float = 300.0) -> None:
        """Block until every intercept event in the store is in the projections."""
        expected = count_intercept_events(writer)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if projection_store.timeline_lines(self.consumer_engine.db) >= expected:
                return
            time.sleep(0.1)
        raise TimeoutError(f"projections did not reach {expected} events within {timeout:.0f}s")


def count_intercept_events(engine: Engine, batch: int = 5000) -> int:
    position, count = 0, 0
    while entries := engine.read_log(position, batch):
        count += sum(isinstance(e, InterceptEvent) for _, e in entries)
        position = entries[-1][0]
    return count
