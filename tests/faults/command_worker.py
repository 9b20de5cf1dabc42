"""A client process: sends a plan's commands from a given index, one line per answer.

Run as `python -m tests.faults.command_worker START SEED INTERCEPTS FOLLOW_UPS` with the
engine's settings in the environment. It prints `ready`, then `done N OUTCOME` after each
command; a parent kills it at random points and starts it again from the first
unanswered command, as a client would retry.
"""

import sys

from domain.errors import DomainError
from engine.composition import build_engine
from engine.settings import Settings
from tests.faults.plans import plan


def main(start: int, seed: int, intercepts: int, follow_ups: int) -> None:
    engine = build_engine(Settings.from_env())
    commands = plan(seed, intercepts, follow_ups)
    print("ready", flush=True)
    for n in range(start, len(commands)):
        try:
            outcome = engine.execute(commands[n]).outcome.value
        except DomainError as refusal:
            outcome = f"refused:{refusal.rule}"
        print(f"done {n} {outcome}", flush=True)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:5]))
