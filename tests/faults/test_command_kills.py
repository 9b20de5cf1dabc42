"""Command processes SIGKILLed at random points, on SQLite and PostgreSQL.

A client sends a plan of commands, each with its own idempotency key, from a
process that is killed at random moments: while starting, between commands,
in the middle of recording one or of catching the projections up. Like a real
client it then starts again from the first command it got no answer for. In
the end the event store must hold exactly what one uninterrupted run records,
and the projections exactly what an in-order pass over the store gives.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

from domain.errors import DomainError
from domain.events import InterceptEvent
from engine.composition import build_engine
from engine.settings import Settings
from tests.faults.plans import keys_recorded_twice, plan, signature
from tests.faults.report import report
from tests.integration.projection_tables import reference_tables, tables

SEED, INTERCEPTS, FOLLOW_UPS = 21, 12, 400
KILLS = {"sqlite": 20, "postgres": 12}


def history(engine) -> list:
    return [event for _, event in engine.read_log(0, 10**9)]


def uninterrupted(tmp_path) -> tuple[list, list[str]]:
    """The history and the answers of the same plan sent by a client that is never killed."""
    engine = build_engine(Settings(home=tmp_path / "uninterrupted"))
    answers = []
    for command in plan(SEED, INTERCEPTS, FOLLOW_UPS):
        try:
            answers.append(engine.execute(command).outcome.value)
        except DomainError as refusal:
            answers.append(f"refused:{refusal.rule}")
    return signature(history(engine)), answers


def run_worker(start: int, env: dict, kill: tuple[str, float] | None) -> tuple[dict, bool]:
    """Runs the client from `start`; returns its answers by command and whether it was killed.

    `kill` is ("startup", seconds after launch) or ("running", seconds after it is ready).
    """
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.faults.command_worker",
            str(start),
            str(SEED),
            str(INTERCEPTS),
            str(FOLLOW_UPS),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    lines = []
    if kill is not None:
        when, delay = kill
        if when == "running":
            lines.append(process.stdout.readline())  # "ready"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
    # Read through the same buffer readline() used: communicate() would skip what it holds.
    lines += process.stdout.read().splitlines()
    process.wait(timeout=120)
    answers = {
        int(n): outcome
        for _, n, outcome in (line.split() for line in lines if line.startswith("done"))
    }
    killed = process.returncode == -signal.SIGKILL
    assert killed or process.returncode == 0, lines
    return answers, killed


def test_commands_killed_at_random_points_lose_nothing_and_record_nothing_twice(
    store_settings, store_env, backend, tmp_path
):
    total = len(plan(SEED, INTERCEPTS, FOLLOW_UPS))
    env = {**os.environ, **store_env, "PYTHONPATH": os.getcwd()}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    expected, expected_answers = uninterrupted(tmp_path)
    rng = random.Random(4)
    answers: dict[int, str] = {}
    kills = trials = written_unanswered = 0
    while len(answers) < total and kills < KILLS[backend]:
        # A command and its catch-up take a few milliseconds: the short waits land
        # inside them as often as between them.
        kill = (
            ("startup", rng.uniform(0.0, 0.6))
            if rng.random() < 0.15
            else ("running", rng.uniform(0.0, 0.05))
        )
        got, killed = run_worker(len(answers), env, kill)
        # Recorded by the killed run, unanswered, and recognised as a repeat on the resend.
        resent = got.get(len(answers))
        written_unanswered += resent == "duplicate" != expected_answers[len(answers)]
        answers.update(got)
        kills += killed
        trials += 1
    got, _ = run_worker(len(answers), env, None)  # the client finishes its plan
    answers.update(got)
    trials += 1
    assert len(answers) == total

    engine = build_engine(store_settings)
    engine.catch_up()  # a kill may have left the last catch-up undone
    recorded = history(engine)
    lost = sum((Counter(expected) - Counter(signature(recorded))).values())
    twice = keys_recorded_twice(recorded)
    projected = engine.db.read("SELECT COUNT(*) AS n FROM intercept_events")[0]["n"]
    intercept_events = sum(isinstance(e, InterceptEvent) for e in recorded)
    report(
        f"command processes killed ({backend})",
        trials=trials,
        sigkills=kills,
        killed_after_write_before_answer=written_unanswered,
        commands=total,
        events=len(recorded),
        events_lost=lost,
        recorded_twice=twice,
        projected=projected,
        projected_expected=intercept_events,
    )
    # The plan may finish before every planned kill when commands run fast; half of them
    # landing is still many kills at random points.
    assert kills >= KILLS[backend] // 2
    assert signature(recorded) == expected
    assert (lost, twice) == (0, 0)
    assert projected == intercept_events
    assert tables(engine.db) == reference_tables(store_settings, tmp_path)
