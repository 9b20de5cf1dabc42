"""Scenario 7: how long the CLI takes to start, for commands that touch no server.

Each command runs as a fresh process, as scripts and operators call it, beside
`python -c pass` (the interpreter's own start) in the same run; commands and
baseline take turns. Light commands are the ones reaching only files under the
home: the help, a policy, the package center on embedded SQLite (a list, one
intercept, the statistics), the keys. A second baseline is the floor the libraries set
(`FLOOR`): a Typer command printing through rich, with nothing of the engine.
"""

import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from bench import workload
from bench.backends import Backend
from engine.composition import build_engine

INTERCEPT = str(Path(sys.executable).with_name("intercept"))

# What bounds a command's start from below: the libraries every command runs on and
# nothing of the engine. A Typer app whose one command takes one option (typer converts
# an option's value through a pydantic TypeAdapter, so it loads pydantic) and prints one
# line through rich's console, as the commands print.
FLOOR = "typer + rich, one option (the libraries' floor)"
_FLOOR_SCRIPT = """
import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(limit: int = typer.Option(20, min=1)) -> None:
    from rich.console import Console

    Console(markup=False, highlight=False).print(f"limit {limit}")


app()
"""


def _wall(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds, and the child's CPU seconds (user plus system): on a shared machine
    the wall time carries the others' load, the CPU time mostly does not."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(backend: Backend, repeats: int) -> dict:
    # Always SQLite under a home: "touches no server" is the point of the measure.
    settings = Backend("sqlite", scratch=backend.scratch).settings("cli")
    with closing(build_engine(settings)) as engine:
        for command in workload.policies():
            engine.execute(command)
        # One intercept, so that `show` shows a row and `stats` counts one.
        shown = engine.execute(workload.request(0, run="cli")).state.id
    env = {**os.environ, "INTERCEPT_HOME": str(settings.home)}
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "INTERCEPT_EVENT_STORE", "INTERCEPT_PROJECTIONS"):
        env.pop(name, None)
    merchant = workload.MERCHANTS[0]
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        FLOOR: [sys.executable, "-c", _FLOOR_SCRIPT, "--limit", "5"],
        "intercept --help": [INTERCEPT, "--help"],
        f"intercept policy show {merchant}": [INTERCEPT, "policy", "show", merchant],
        "intercept list": [INTERCEPT, "list"],
        "intercept keys list": [INTERCEPT, "keys", "list"],
        "intercept show ID": [INTERCEPT, "show", str(shown)],
        "intercept stats": [INTERCEPT, "stats"],
    }
    # Warm the page cache and the bytecode; the first read also notes where the log stands,
    # so the timed reads are those of a loop of reads after a write (docs/performance.md).
    for argv in commands.values():
        _wall(argv, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            wall, used = _wall(argv, env)
            samples[name].append(wall)
            cpu[name].append(used)
    rows = {
        name: {
            "median": statistics.median(s),
            "samples": [round(x, 4) for x in s],
            "cpu_median": statistics.median(cpu[name]),
        }
        for name, s in samples.items()
    }
    baselines = ("python -c pass", FLOOR)
    light = {name: row["median"] for name, row in rows.items() if name not in baselines}
    return {
        "commands": rows,
        "slowest_light_s": max(light.values()),
        "python_s": rows["python -c pass"]["median"],
        "floor_s": rows[FLOOR]["median"],
    }
