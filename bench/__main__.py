"""`python -m bench`: run the scenarios side by side, write the results, print the ratios.

`--quick` runs a reduced version of scenarios 1-4, 6 and 7 and prints
the same ratios; the last line printed is always one JSON object with them.
"""

import contextlib
import json
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer

from bench import cli, commands, growth, http, kafka, latency, machine, rebuild, report
from bench import stats as stats_scenario
from bench.backends import BACKENDS, Backend
from bench.targets import check, ratios

SCENARIOS = ("commands", "rebuild", "kafka", "latency", "growth", "http", "cli", "stats")


@dataclass(frozen=True)
class Plan:
    commands: int
    batch: int
    command_repeats: int
    rebuild_intercepts: int
    rebuild_repeats: int
    kafka_intercepts: int
    kafka_repeats: int
    latency_embedded: int
    latency_kafka: int
    http_pairs_c1: int  # request-and-cancel pairs on the one connection
    http_pairs_c16: int  # on each of the 16
    http_repeats: int
    cli_repeats: int


QUICK = Plan(
    commands=100,
    batch=50,
    command_repeats=3,
    rebuild_intercepts=2000,
    rebuild_repeats=3,
    kafka_intercepts=1000,
    kafka_repeats=2,
    latency_embedded=150,
    latency_kafka=30,
    http_pairs_c1=100,
    http_pairs_c16=25,
    http_repeats=3,
    cli_repeats=5,
)
FULL = Plan(
    commands=1000,
    batch=100,
    command_repeats=5,
    rebuild_intercepts=25_000,
    rebuild_repeats=5,
    kafka_intercepts=10_000,
    kafka_repeats=3,
    latency_embedded=1000,
    latency_kafka=300,
    http_pairs_c1=500,
    http_pairs_c16=100,
    http_repeats=5,
    cli_repeats=9,
)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _broker(bootstrap: str | None):
    if bootstrap:
        from tests.support.kafka_broker import _require_loopback

        _require_loopback(bootstrap)
        return contextlib.nullcontext(bootstrap)
    from tests.support.kafka_broker import KafkaBroker

    @contextlib.contextmanager
    def started():
        with KafkaBroker() as broker:
            yield broker.bootstrap

    return started()


def main(
    quick: bool = typer.Option(False, "--quick", help="Reduced scenarios 1-4, under a minute."),
    backend: str = typer.Option("sqlite", help=f"Storage: {' or '.join(BACKENDS)}."),
    only: str = typer.Option(",".join(SCENARIOS), help="Scenarios to run, comma-separated."),
    growth_sizes: str = typer.Option("10000,100000,1000000", help="Intercepts per growth run."),
    stats_size: int = typer.Option(1_000_000, help="Intercepts behind the statistics scenario."),
    bootstrap: str = typer.Option(
        None, help="A running loopback Kafka broker (default: start Tansu)."
    ),
    out: Path = typer.Option(Path("bench/results"), help="Where the results are written."),
    http_two_servers: bool = typer.Option(
        None,
        "--http-two-servers/--http-one-server",
        help="HTTP: also two `intercept serve` on the same store (default: on PostgreSQL only).",
    ),
) -> None:
    chosen = [s.strip() for s in only.split(",") if s.strip()]
    unknown = sorted(set(chosen) - set(SCENARIOS))
    if unknown:
        raise typer.BadParameter(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}",
            param_hint="--only",
        )
    if backend not in BACKENDS:
        raise typer.BadParameter(
            f"{backend!r} is not one of {', '.join(BACKENDS)}", param_hint="--backend"
        )
    if quick:
        chosen = [s for s in chosen if s not in ("growth", "stats")]
    try:
        sizes = [int(s) for s in growth_sizes.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"{growth_sizes!r} is not a list of numbers", param_hint="--growth-sizes"
        ) from None
    plan = QUICK if quick else FULL
    started = time.perf_counter()
    results: dict = {
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mode": "quick" if quick else "full",
        "backend": backend,
        "machine": machine.describe(),
        "plan": plan.__dict__,
    }
    with Backend(backend) as storage:
        two = backend == "postgresql" if http_two_servers is None else http_two_servers
        _run(chosen, plan, storage, results, sizes, bootstrap, two)
        if "stats" in chosen:
            _say(f"stats over {stats_size:,} intercepts ...")
            results["stats"] = stats_scenario.run(storage, stats_size)
    results["seconds"] = time.perf_counter() - started
    md, js = report.write(results, out)
    _say(report.markdown(results))
    _say(f"wrote {md} and {js}")
    missed = [t["target"] for t in check(results) if t["met"] is False]
    if missed:
        _say("targets not met: " + "; ".join(missed))
    print(json.dumps(ratios(results)))


def _run(
    chosen, plan: Plan, storage: Backend, results: dict, sizes, bootstrap, two_servers: bool
) -> None:
    if "commands" in chosen:
        _say("commands ...")
        results["commands"] = commands.run(storage, plan.commands, plan.batch, plan.command_repeats)
    if "rebuild" in chosen:
        _say("rebuild ...")
        results["rebuild"] = rebuild.run(storage, plan.rebuild_intercepts, plan.rebuild_repeats)
    if "latency" in chosen:
        _say("latency, embedded ...")
        results["latency"] = {"embedded": latency.embedded(storage, plan.latency_embedded)}
    if "kafka" in chosen or "latency" in chosen:
        with _broker(bootstrap) as servers:
            if "kafka" in chosen:
                _say("kafka ...")
                results["kafka"] = kafka.run(
                    storage, servers, plan.kafka_intercepts, plan.kafka_repeats
                )
            if "latency" in chosen:
                _say("latency, through Kafka ...")
                results["latency"]["kafka"] = latency.through_kafka(
                    storage, servers, plan.latency_kafka
                )
    if "http" in chosen:
        _say("http ...")
        results["http"] = http.run(
            storage, plan.http_pairs_c1, plan.http_pairs_c16, plan.http_repeats, two_servers
        )
    if "cli" in chosen:
        _say("cli start ...")
        results["cli"] = cli.run(storage, plan.cli_repeats)
    if "growth" in chosen:
        _say(f"growth {sizes} ...")
        results["growth"] = growth.run(storage, sizes)


if __name__ == "__main__":
    typer.run(main)
