"""`intercept replay` racing live writes and catch-ups, on SQLite and PostgreSQL.

Writers send commands from their own processes, each command catching the projections
up as embedded mode does; meanwhile one process runs `intercept replay` over and over
and another catches up in a loop, as a second server would. Once the writes are done
and one last catch-up ran (what the next command does), the live projections must be
exactly what a fresh rebuild from the store gives: every row, every timeline entry,
nothing left pending, and the same stored position. A replay that rolls the position
back under a catch-up that read it earlier loses events for good: the stored position
reaches the head and nothing reads them again.
"""

import os
import subprocess
import sys
from collections import Counter

from domain.events import InterceptEvent
from domain.ids import intercept_id
from engine.composition import build_engine
from engine.settings import Settings
from tests import builders as b
from tests.faults.replay_worker import plan
from tests.faults.report import report

WRITERS = 4
HISTORY = 300
TRIALS = {"sqlite": 3, "postgres": 2}


def snapshot(db) -> dict[str, list[dict]]:
    return {
        "intercepts": db.read("SELECT * FROM intercepts ORDER BY intercept_id"),
        "timeline": db.read("SELECT * FROM intercept_events ORDER BY intercept_id, version"),
        "pending": db.read(
            "SELECT intercept_id, version FROM pending_events ORDER BY intercept_id, version"
        ),
        "checkpoints": db.read(
            "SELECT projection, source, partition, position FROM checkpoints "
            "ORDER BY projection, source, partition"
        ),
    }


def rebuilt(settings: Settings, path) -> dict[str, list[dict]]:
    reference = build_engine(
        settings.model_copy(update={"projections": f"sqlite:///{path}", "kafka_bootstrap": None})
    )
    try:
        reference.catch_up()
        return snapshot(reference.db)
    finally:
        reference.close()


def start(role: str, arg: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.replay_worker", role, arg],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )


def finish(process: subprocess.Popen) -> list[int]:
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, out
    return [int(word) for word in out.split() if word.isdigit()]


def one_trial(settings: Settings, trial: int, tmp_path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "INTERCEPT_HOME": str(settings.home)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    for name, value in (
        ("INTERCEPT_EVENT_STORE", settings.event_store),
        ("INTERCEPT_PROJECTIONS", settings.projections),
    ):
        if value:
            env[name] = value
    # A history to rebuild first: a rebuild and its swap then take as long as a real
    # one's few hundred milliseconds, and live catch-ups land inside them.
    setup = build_engine(settings)
    setup.execute(b.policy())
    setup.execute_many(
        [
            b.request(key=f"old{n}", order_id=f"old{n}", tracking_no=f"ZTold{n}")
            for n in range(HISTORY)
        ]
    )
    setup.close()

    stop = tmp_path / f"stop-{trial}"
    replayer = start("replayer", str(stop), env)
    catcher = start("catcher", str(stop), env)
    writers = [start("writer", f"t{trial}w{n}", env) for n in range(WRITERS)]
    commands = sum(finish(w)[0] for w in writers)
    stop.touch()
    (replays, failed), (catch_ups,) = finish(replayer), finish(catcher)

    live = build_engine(settings)
    try:
        live.catch_up()  # what the next command would do
        got = snapshot(live.db)
        recorded = sum(isinstance(e, InterceptEvent) for _, e in live.read_log(0, 10**9))
    finally:
        live.close()
    want = rebuilt(settings, tmp_path / f"reference-{trial}.db")

    def keyed(rows):
        return Counter(tuple(sorted(r.items())) for r in rows)

    lost = sum((keyed(want["timeline"]) - keyed(got["timeline"])).values())
    doubled = sum((keyed(got["timeline"]) - keyed(want["timeline"])).values())
    rows_wrong = sum((keyed(want["intercepts"]) - keyed(got["intercepts"])).values())
    return {
        "commands": commands,
        "replays": replays,
        "replays_failed": failed,
        "catch_ups": catch_ups,
        "events": recorded,
        "lost": lost,
        "doubled": doubled,
        "rows_wrong": rows_wrong,
        "pending": len(got["pending"]),
        "same": got == want,
        "diff": {k: (len(got[k]), len(want[k])) for k in got if got[k] != want[k]},
    }


def test_replays_during_live_writes_lose_nothing_and_apply_nothing_twice(
    backend, tmp_path, request
):
    results = []
    for trial in range(TRIALS[backend]):
        home = tmp_path / f"trial-{trial}"
        if backend == "sqlite":
            settings = Settings(home=home)
        else:
            server = request.getfixturevalue("postgres_server")
            settings = Settings(
                home=home,
                event_store=server.create_database(f"events{trial}"),
                projections=server.create_database(f"projections{trial}"),
            )
        results.append(one_trial(settings, trial, tmp_path))
    total = {k: sum(r[k] for r in results) for k in results[0] if k not in ("same", "diff")}
    report(f"replay during live writes ({backend})", trials=len(results), **total)
    assert total["commands"] == TRIALS[backend] * WRITERS * len(plan("x"))
    assert total["replays"] >= TRIALS[backend]  # the race ran: replays overlapped the writes
    assert total["replays_failed"] == 0
    assert [(r["lost"], r["doubled"], r["rows_wrong"], r["pending"]) for r in results] == [
        (0, 0, 0, 0)
    ] * len(results)
    assert [r["diff"] for r in results] == [{}] * len(results)


def test_a_catch_up_straddling_a_swap_loses_nothing(store_settings, tmp_path):
    """The interleaving the race above waits for, made to happen every time.

    A catch-up reads the stored position and its next events; before it applies them, a
    replay swaps in a rebuild that ended earlier (events were projected meanwhile). The
    batch must not land on top of the rolled-back rows as if nothing were missing.
    """
    from engine.replay import ReplayReport, from_store
    from projections.catchup import catch_up
    from projections.fresh import FreshProjections

    engine = build_engine(store_settings)
    engine.execute(b.policy())
    ids = [intercept_id("m1", f"r{n}") for n in range(4)]
    for n, iid in enumerate(ids):
        engine.execute(b.request(key=f"r{n}", order_id=f"o{n}", tracking_no=f"ZT{n}"))
        engine.execute(b.fee(iid, key=f"f{n}"))
    with FreshProjections(engine.db) as fresh:
        from_store(fresh.db, engine.read_intercept_log, ReplayReport("store"), lambda n: None)
        for n, iid in enumerate(ids):  # projected live, after the rebuild's last read
            engine.execute(b.fee(iid, key=f"g{n}", amount_minor=300))
        engine.app.handle(b.cancel(ids[0], key="c0"))  # recorded, not yet projected

        swaps = []

        def read_then_swap(after: int, limit: int):
            batch = engine.read_intercept_log(after, limit)
            if batch and not swaps:
                fresh.swap_in()
                swaps.append(after)
            return batch

        catch_up(engine.projector, read_then_swap)
    engine.catch_up()  # what the next command would do
    got = snapshot(engine.db)
    want = rebuilt(store_settings, tmp_path / "reference.db")
    engine.close()
    assert swaps
    assert got["pending"] == []
    assert got == want


def test_a_swap_never_takes_the_projections_back_to_an_older_position(store_settings, tmp_path):
    """Events projected live while the rebuild ran stay visible across the swap.

    Otherwise an intercept its owner was just told about disappears until the next
    catch-up, and a reader in between gets a 404 for it.
    """
    from engine.replay import ReplayReport, from_store
    from projections.catchup import EVENT_STORE
    from projections.fresh import FreshProjections

    engine = build_engine(store_settings)
    engine.execute(b.policy())
    engine.execute(b.request(key="r0"))
    with FreshProjections(engine.db) as fresh:
        from_store(fresh.db, engine.read_intercept_log, ReplayReport("store"), lambda n: None)
        late = engine.execute(b.request(key="r1", order_id="o1", tracking_no="ZT1")).state.id
        engine.execute(b.fee(late, key="f1"))
        ahead = engine.projector.positions(EVENT_STORE)
        fresh.swap_in(read=engine.read_intercept_log)
    got = snapshot(engine.db)
    assert engine.projector.positions(EVENT_STORE) == ahead
    engine.close()
    assert got == rebuilt(store_settings, tmp_path / "reference.db")
