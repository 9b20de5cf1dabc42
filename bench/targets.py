"""The targets the engine is held to, each checked against what a run measured."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    wanted: str
    measured: Callable[[dict], float | None]
    met: Callable[[float], bool]
    unit: str = "x"


def _get(results: dict, *path: str):
    for key in path:
        if not isinstance(results, dict) or key not in results:
            return None
        results = results[key]
    return results


def _growth_rss(results: dict) -> float | None:
    ratios = _get(results, "growth", "peak_rss_vs_smallest") or {}
    return max(ratios.values()) if len(ratios) > 1 else None


def _million_seconds(results: dict) -> float | None:
    sizes = _get(results, "growth", "sizes") or []
    return next((s["rebuild_seconds"] for s in sizes if s["intercepts"] == 1_000_000), None)


TARGETS = [
    Target(
        "requests, engine vs raw eventsourcing",
        ">= 0.9",
        lambda r: _get(r, "commands", "ratios", "engine_vs_raw_requests"),
        lambda v: v >= 0.9,
    ),
    Target(
        "cancels, engine vs raw eventsourcing",
        ">= 0.9",
        lambda r: _get(r, "commands", "ratios", "engine_vs_raw_cancels"),
        lambda v: v >= 0.9,
    ),
    Target(
        "requests, embedded (with projection) vs raw",
        ">= 0.8",
        lambda r: _get(r, "commands", "ratios", "embedded_vs_raw_requests"),
        lambda v: v >= 0.8,
    ),
    Target(
        "cancels, embedded (with projection) vs raw",
        ">= 0.8",
        lambda r: _get(r, "commands", "ratios", "embedded_vs_raw_cancels"),
        lambda v: v >= 0.8,
    ),
    Target(
        "batched vs one-by-one requests",
        ">= 10",
        lambda r: _get(r, "commands", "ratios", "batch_vs_one_by_one_requests"),
        lambda v: v >= 10,
    ),
    Target(
        "batched vs one-by-one cancels",
        ">= 10",
        lambda r: _get(r, "commands", "ratios", "batch_vs_one_by_one_cancels"),
        lambda v: v >= 10,
    ),
    Target(
        "rebuild vs raw notification-log read",
        ">= 0.4",
        lambda r: _get(r, "rebuild", "ratios", "rebuild_vs_raw_read"),
        lambda v: v >= 0.4,
    ),
    Target("1M intercepts rebuilt", "< 45 s", _million_seconds, lambda v: v < 45, "s"),
    Target(
        "relay vs raw kafka-python producer",
        ">= 0.8",
        lambda r: _get(r, "kafka", "ratios", "relay_vs_raw_producer"),
        lambda v: v >= 0.8,
    ),
    Target(
        "projection consumer vs raw kafka-python consumer",
        ">= 0.5",
        lambda r: _get(r, "kafka", "ratios", "consumer_vs_raw_consumer"),
        lambda v: v >= 0.5,
    ),
    Target(
        "p99 command-to-projection latency, embedded",
        "< 20 ms",
        lambda r: _get(r, "latency", "embedded", "p99_ms"),
        lambda v: v < 20,
        "ms",
    ),
    Target(
        "peak RSS of the largest rebuild vs the 10k one", "<= 1.5", _growth_rss, lambda v: v <= 1.5
    ),
    Target(
        "HTTP commands at c=16, engine vs bare FastAPI",
        ">= 0.6",
        lambda r: _get(r, "http", "ratios", "engine_vs_bare_c16"),
        lambda v: v >= 0.6,
    ),
    Target(
        "HTTP commands at c=1, engine vs bare FastAPI",
        ">= 0.3",
        lambda r: _get(r, "http", "ratios", "engine_vs_bare_c1"),
        lambda v: v >= 0.3,
    ),
    Target(
        "HTTP commands, engine at c=16 vs at c=1",
        ">= 2.5",
        lambda r: _get(r, "http", "ratios", "engine_c16_vs_c1"),
        lambda v: v >= 2.5,
    ),
    Target(
        "HTTP p99 latency at c=16",
        "< 30 ms",
        lambda r: _get(r, "http", "p99_ms_c16"),
        lambda v: v < 30,
        "ms",
    ),
    Target(
        "HTTP, two PostgreSQL servers vs one",
        ">= 1.6",
        lambda r: (
            _get(r, "http", "ratios", "two_servers_vs_one_c16")
            if r.get("backend") == "postgresql"
            else None
        ),
        lambda v: v >= 1.6,
    ),
    Target(
        "CLI start, slowest light command (median wall)",
        "< 0.2 s",
        lambda r: _get(r, "cli", "slowest_light_s"),
        lambda v: v < 0.2,
    ),
    Target(
        "intercept stats over 1M intercepts (the query)",
        "< 1 s",
        lambda r: (
            _get(r, "stats", "answer_seconds")
            if _get(r, "stats", "intercepts") == 1_000_000
            else None
        ),
        lambda v: v < 1,
        "s",
    ),
]


def check(results: dict) -> list[dict]:
    rows = []
    for target in TARGETS:
        value = target.measured(results)
        rows.append(
            {
                "target": target.name,
                "wanted": target.wanted,
                "unit": target.unit,
                "measured": value,
                "met": None if value is None else target.met(value),
            }
        )
    return rows


def ratios(results: dict) -> dict:
    """Every ratio the run measured, flat: what the quick mode prints last."""
    flat = {}
    for scenario in ("commands", "rebuild", "kafka", "http"):
        for name, value in (_get(results, scenario, "ratios") or {}).items():
            flat[f"{scenario}.{name}"] = round(value, 3)
    p99 = _get(results, "latency", "embedded", "p99_ms")
    if p99 is not None:
        flat["latency.embedded_p99_ms"] = round(p99, 2)
    http_p99 = _get(results, "http", "p99_ms_c16")
    if http_p99 is not None:
        flat["http.p99_ms_c16"] = round(http_p99, 2)
    slowest = _get(results, "cli", "slowest_light_s")
    if slowest is not None:
        flat["cli.slowest_light_s"] = round(slowest, 3)
    return flat
