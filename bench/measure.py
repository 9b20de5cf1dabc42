"""Timing helpers: rates, medians of repeated runs, latency percentiles.

Machines here are shared and noisy, so every target is a ratio against a
baseline measured in the same run, and engine and baseline alternate within
each repeat so that a slow spell hits both.
"""

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Rate:
    """How many things per second, over repeated runs; the median is what counts."""

    unit: str
    samples: list[float] = field(default_factory=list)

    def add(self, count: int, seconds: float) -> None:
        self.samples.append(count / seconds if seconds > 0 else float("inf"))

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def as_dict(self) -> dict:
        return {
            "unit": self.unit,
            "median": self.median,
            "samples": [round(s, 1) for s in self.samples],
        }


def timed(work: Callable[[], int]) -> tuple[int, float]:
    """Run `work` (which returns how many things it did); (count, seconds)."""
    started = time.perf_counter()
    count = work()
    return count, time.perf_counter() - started


def ratio(engine: Rate, limit: Rate) -> float:
    return engine.median / limit.median


def percentiles(latencies_s: list[float]) -> dict:
    """p50/p90/p99/max in milliseconds (nearest-rank, no interpolation)."""
    ordered = sorted(latencies_s)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    return {
        "n": len(ordered),
        "p50_ms": rank(50),
        "p90_ms": rank(90),
        "p99_ms": rank(99),
        "max_ms": ordered[-1] * 1000,
    }
