"""One process of the replay race: a writer, a replayer or a catcher-up.

Run as `python -m tests.faults.replay_worker ROLE ARG` with the engine's settings in the
environment:

- `writer PREFIX`: sends its own plan of commands (keys and parcels under PREFIX), each
  one catching the projections up as embedded mode does; prints `done N` at the end.
- `replayer STOP_FILE`: runs `intercept replay` (the real command, in this process) over
  and over until STOP_FILE exists; prints `replays N`.
- `catcher STOP_FILE`: catches the projections up over and over, as a second server or a
  `list` would; prints `catch-ups N`.
"""

import random
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from domain.errors import DomainError
from domain.ids import intercept_id
from engine.composition import build_engine
from engine.settings import Settings
from storage.database import DatabaseBusy
from tests import builders as b

INTERCEPTS, FOLLOW_UPS = 12, 120


def plan(prefix: str) -> list:
    rng = random.Random(prefix)
    commands, ids = [], []
    for n in range(INTERCEPTS):
        key = f"{prefix}r{n}"
        commands.append(b.request(key=key, order_id=f"{prefix}o{n}", tracking_no=f"ZT{prefix}{n}"))
        ids.append(intercept_id("m1", key))
    for n in range(FOLLOW_UPS):
        iid, key = rng.choice(ids), f"{prefix}s{n}"
        kind = rng.choice(["fee", "fee", "accepted", "confirmed", "cancel", "released"])
        if kind == "fee":
            commands.append(b.fee(iid, key=key, amount_minor=rng.randint(1, 5000)))
        elif kind == "cancel":
            commands.append(b.cancel(iid, key=key))
        else:
            commands.append(b.carrier(iid, kind, key=key))
    return commands


def writer(prefix: str) -> None:
    engine = build_engine(Settings.from_env())
    sent = 0
    for command in plan(prefix):
        try:
            engine.execute(command)
        except DomainError:
            pass
        except DatabaseBusy:
            pass  # recorded; the next command's catch-up brings the projections along
        sent += 1
    engine.close()
    print(f"done {sent}", flush=True)


def replayer(stop: Path) -> None:
    from engine.cli.main import app

    runner, replays, failed = CliRunner(), 0, 0
    while not stop.exists():
        result = runner.invoke(app, ["replay", "--json"])
        replays += 1
        if result.exit_code != 0:
            failed += 1
            print(
                f"failed {result.exit_code} {result.exception!r} {result.output[-800:]}",
                file=sys.stderr,
                flush=True,
            )
    print(f"replays {replays} failed {failed}", flush=True)


def catcher(stop: Path) -> None:
    engine = build_engine(Settings.from_env())
    rounds = 0
    while not stop.exists():
        engine.catch_up()
        rounds += 1
        time.sleep(0.02)  # as a second server would between its commands
    engine.close()
    print(f"catch-ups {rounds}", flush=True)


if __name__ == "__main__":
    role, arg = sys.argv[1:3]
    if role == "writer":
        writer(arg)
    elif role == "replayer":
        replayer(Path(arg))
    else:
        catcher(Path(arg))
