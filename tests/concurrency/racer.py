"""One of several client processes racing on the same intercepts.

Run as `python -m tests.concurrency.racer WORKER INTERCEPTS MAX_RETRIES` with the engine's
settings in the environment. Prints `ready`, waits for a line on stdin so that all
racers start together, then sends its cancels, carrier reports and fees in its own
random order and prints one JSON line per command, then `races_lost N`: how often
another writer recorded a version first (the command is then decided again, or reported).
"""

import json
import random
import sys

from eventsourcing.persistence import IntegrityError

from domain.errors import DomainError
from domain.ids import intercept_id
from engine.composition import build_engine
from engine.settings import Settings
from tests import builders as b


def commands(worker: int, intercepts: int) -> list:
    """Per intercept: a cancel, a carrier report and a fee; contested ones get confirmations."""
    out = []
    for n in range(intercepts):
        iid = intercept_id("m1", f"r{n}")
        contested = n < intercepts // 2
        report = "confirmed" if contested and worker % 2 else "accepted"
        out += [
            ("cancel", n, b.cancel(iid, key=f"c{worker}-{n}")),
            (report, n, b.carrier(iid, report, key=f"p{worker}-{n}")),
            ("fee", n, b.fee(iid, key=f"f{worker}-{n}", amount_minor=100 + worker)),
        ]
    random.Random(worker).shuffle(out)
    return out


def main(worker: int, intercepts: int, max_retries: int) -> None:
    engine = build_engine(Settings.from_env(max_retries=max_retries))
    races_lost = 0
    record = engine.app.record

    def counting_record(events):
        nonlocal races_lost
        try:
            return record(events)
        except IntegrityError:
            races_lost += 1
            raise

    engine.app.record = counting_record
    print("ready", flush=True)
    sys.stdin.readline()
    for kind, n, command in commands(worker, intercepts):
        try:
            outcome = engine.execute(command).outcome.value
        except DomainError as refusal:
            outcome = f"refused:{refusal.rule}"
        print(
            json.dumps(
                {
                    "worker": worker,
                    "intercept": n,
                    "kind": kind,
                    "key": command.key,
                    "outcome": outcome,
                }
            ),
            flush=True,
        )
    print(f"races_lost {races_lost}", flush=True)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:4]))
