"""Carrier protocols: one adapter per protocol family, and a simulator that speaks them all.

This package knows HTTP and the carriers' wire formats; it speaks to the domain only in
its words (report, rejection code, failure reason, stage values) and imports nothing
of the engine, the API or the projections.
"""

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from carriers.aggregator import AggregatorAdapter
from carriers.direct import DirectAdapter
from carriers.generic import GenericAdapter
from carriers.protocol import Adapter

PROTOCOLS = ("direct", "aggregator", "generic")
"""The protocol families a carrier's settings entry may name as its adapter."""


def adapters(clock: Callable[[], datetime] | None = None) -> Mapping[str, Adapter]:
    """One adapter per protocol family; `clock` signs the calls that carry a time."""

    def seconds() -> float:
        return clock().timestamp() if clock else time.time()

    def millis() -> int:
        return int(seconds() * 1000)

    return {
        "direct": DirectAdapter(),
        "aggregator": AggregatorAdapter(millis),
        "generic": GenericAdapter(seconds),
    }


def utc_now() -> datetime:
    return datetime.now(UTC)
