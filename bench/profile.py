"""Profiles one workload with py-spy and writes where the time goes, under bench/results/.

    python -m bench.profile rebuild --size 20000
    python -m bench.profile commands | relay | consume

The workload's data is prepared first; py-spy then attaches to this process
for the measured part only, so setup does not blur the profile. The output is
py-spy's collapsed stacks (profile-NAME.txt, for flamegraph tools) and a
summary (profile-NAME.md): the functions with the most samples, on their own
and with what they call.
"""

import collections
import os
import signal
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from pathlib import Path

import typer

from bench import kafka, rebuild, workload
from bench.backends import Backend
from engine.composition import build_engine

WORKLOADS = ("rebuild", "fill", "commands", "embedded", "batch", "relay", "consume", "http")


@contextmanager
def _sampled(
    name: str, out: Path, rate: int = 500, pid: int | None = None, flags: tuple[str, ...] = ()
):
    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"profile-{name}.txt"
    spy = subprocess.Popen(
        [
            _py_spy(),
            "record",
            "--pid",
            str(os.getpid() if pid is None else pid),
            "--format",
            "raw",
            "--rate",
            str(rate),
            "--nonblocking",
            *flags,
            "-o",
            str(raw),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1.0)  # let it attach
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        spy.send_signal(signal.SIGINT)
        spy.wait(60)
        (out / f"profile-{name}.md").write_text(summary(raw.read_text(), name, seconds))
        print(f"wrote {raw} and {out / f'profile-{name}.md'} ({seconds:.1f} s profiled)")


def _py_spy() -> str:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else "py-spy"


def summary(collapsed: str, name: str, seconds: float, top: int = 30) -> str:
    own: collections.Counter = collections.Counter()
    within: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
            for f in stack.split(";")
        ]
        own[frames[-1]] += n
        for frame in set(frames):
            within[frame] += n
    lines = [
        f"# Profile: {name}",
        "",
        f"{total} samples over {seconds:.1f} s (py-spy, all threads).",
        "",
        "## Most samples in the function itself",
        "",
        "| share | function |",
        "|---:|---|",
    ]
    lines += [f"| {n / total:.1%} | `{f}` |" for f, n in own.most_common(top)]
    lines += [
        "",
        "## Most samples within the function (with what it calls)",
        "",
        "| share | function |",
        "|---:|---|",
    ]
    # Frames in nearly every sample are the harness around the workload.
    lines += [f"| {n / total:.1%} | `{f}` |" for f, n in within.most_common() if n < 0.97 * total][
        :top
    ]
    return "\n".join(lines) + "\n"


def main(
    workload_name: str = typer.Argument(..., help=" | ".join(WORKLOADS)),
    size: int = typer.Option(20_000, help="Intercepts (rebuild, Kafka) or commands."),
    bootstrap: str = typer.Option(None, help="A running loopback Kafka broker."),
    out: Path = typer.Option(Path("bench/results")),
    backend: str = typer.Option("sqlite", help="sqlite or postgresql."),
) -> None:
    if workload_name not in WORKLOADS:
        raise typer.BadParameter(f"one of {', '.join(WORKLOADS)}")
    with Backend(backend) as storage:
        globals()[f"_{workload_name}"](storage, size, out, bootstrap)


def _rebuild(storage, size, out, _):
    settings, _history = rebuild.prepare(storage, size)
    fresh = storage.fresh_projections(settings, "profiled")
    with closing(build_engine(fresh)) as engine, _sampled("rebuild", out):
        engine.catch_up()


def _fill(storage, size, out, _):
    """What `intercept replay` does: the whole log into new, empty projections (with the
    processes filling its parts, engine/replay.py)."""
    settings, _history = rebuild.prepare(storage, size)
    fresh = storage.fresh_projections(settings, "profiled")
    with closing(build_engine(fresh)) as engine, _sampled("fill", out, flags=("--subprocesses",)):
        rebuild.fill(engine)


def _commands_on(storage, size, out, name, more, batch=None):
    with closing(
        build_engine(storage.settings(name, **more), clock=workload.StepClock())
    ) as engine:
        for command in workload.policies():
            engine.execute(command)
        requests = [workload.request(i, "p") for i in range(size)]
        cancels = [workload.cancel_for(c) for c in requests]
        with _sampled(name, out):
            for commands in (requests, cancels):
                if batch:
                    for first in range(0, len(commands), batch):
                        engine.execute_many(commands[first : first + batch])
                else:
                    for command in commands:
                        engine.execute(command)


def _commands(storage, size, out, _):
    _commands_on(storage, min(size, 2000), out, "commands", {"kafka_bootstrap": "127.0.0.1:9"})


def _embedded(storage, size, out, _):
    _commands_on(storage, min(size, 2000), out, "embedded", {})


def _batch(storage, size, out, _):
    _commands_on(storage, size, out, "batch", {"kafka_bootstrap": "127.0.0.1:9"}, batch=100)


@contextmanager
def _broker(bootstrap):
    if bootstrap:
        yield bootstrap
        return
    from tests.support.kafka_broker import KafkaBroker

    with KafkaBroker() as broker:
        yield broker.bootstrap


def _relay(storage, size, out, bootstrap):
    settings, _history = rebuild.prepare(storage, size)
    with _broker(bootstrap) as servers:
        settings = kafka._on_topic(settings.model_copy(update={"kafka_bootstrap": servers}), "pr")
        with closing(build_engine(settings)) as engine, _sampled("relay", out):
            kafka._relay(settings, engine)


def _consume(storage, size, out, bootstrap):
    settings, _history = rebuild.prepare(storage, size)
    with _broker(bootstrap) as servers:
        settings = kafka._on_topic(settings.model_copy(update={"kafka_bootstrap": servers}), "pc")
        with closing(build_engine(settings)) as engine:
            published, _, _ = kafka._relay(settings, engine)
        with _sampled("consume", out):
            kafka._project(storage, settings, published, "profiled")


def _http(storage, size, out, _):
    """`intercept serve` under load (size: commands per run), sampled three ways: at c=16
    every thread, idle ones too (where the writer waits), then only the thread holding the
    GIL; the same at c=1."""
    from bench import http

    settings, key = http.prepare(storage)
    runs = (
        ("http-c16", 16, ("--idle", "--threads")),
        ("http-c16-gil", 16, ("--gil", "--threads")),
        ("http-c1", 1, ("--idle", "--threads")),
        ("http-c1-gil", 1, ("--gil", "--threads")),
    )
    with http.engine_server(settings, settings.home / "serve.log") as (port, pid):
        http.load([port], http.commands(key, "warm", 2, 20))
        for name, c, flags in runs:
            plan = http.commands(key, name, c, max(size // (2 * c), 1))
            with _sampled(name, out, rate=200, pid=pid, flags=flags):
                result = http.load([port], plan)
            print(f"{name}: {result['requests'] / result['seconds']:.0f} commands/s")


if __name__ == "__main__":
    typer.run(main)
