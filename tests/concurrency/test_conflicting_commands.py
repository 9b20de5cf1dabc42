"""Several processes send conflicting commands to the same intercepts at once.

Cancels race each other and carrier confirmations; fees pile onto the same
intercepts. Every command must get an answer, exactly the commands answered
"recorded" must be in the event store, at most one cancel per intercept may be
recorded (exactly one where nothing else closed it), and lost optimistic-
concurrency races are decided again a bounded number of times, then reported.
"""

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from eventsourcing.persistence import IntegrityError

from domain.errors import ConcurrencyConflict
from domain.events import Cancelled, CarrierConfirmed, FeeCharged
from engine.composition import build_engine
from tests import builders as b
from tests.concurrency.racer import commands
from tests.faults.report import report
from tests.integration.projection_tables import reference_tables, tables

RACERS, INTERCEPTS = 4, 6


def race(env: dict, max_retries: int) -> tuple[list[dict], int]:
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.concurrency.racer",
                str(w),
                str(INTERCEPTS),
                str(max_retries),
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(RACERS)
    ]
    for racer in racers:
        assert racer.stdout.readline().strip() == "ready"
    for racer in racers:  # all start at once
        racer.stdin.write("go\n")
        racer.stdin.flush()
    answers, races_lost = [], 0
    for racer in racers:
        for line in racer.stdout.read().splitlines():
            if line.startswith("races_lost"):
                races_lost += int(line.split()[1])
            else:
                answers.append(json.loads(line))
        assert racer.wait(timeout=120) == 0
    return answers, races_lost


@pytest.mark.parametrize("max_retries", [8, 1])
def test_racing_cancels_confirmations_and_fees_keep_every_invariant(
    store_settings, store_env, backend, tmp_path, max_retries
):
    engine = build_engine(store_settings)
    engine.execute(b.policy())
    ids = [
        engine.execute(b.request(key=f"r{n}", order_id=f"o{n}", tracking_no=f"ZT{n}")).state.id
        for n in range(INTERCEPTS)
    ]
    env = {**os.environ, **store_env, "PYTHONPATH": os.getcwd()}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    answers, races_lost = race(env, max_retries)
    engine.catch_up()
    events = [e for _, e in engine.read_log(0, 10**9)]
    sent = RACERS * len(commands(0, INTERCEPTS))
    recorded_keys = Counter(getattr(e, "idempotency_key", None) for e in events)
    recorded_answers = [a for a in answers if a["outcome"] == "recorded"]
    conflicts = [a for a in answers if a["outcome"] == "refused:concurrent_modification"]
    cancels = Counter(str(e.originator_id) for e in events if isinstance(e, Cancelled))
    report(
        f"concurrent commands ({backend}, max_retries={max_retries})",
        processes=RACERS,
        intercepts=INTERCEPTS,
        commands_sent=sent,
        answered=len(answers),
        recorded=len(recorded_answers),
        races_lost=races_lost,
        conflicts_reported=len(conflicts),
        cancels_recorded=sum(cancels.values()),
    )

    assert len(answers) == sent  # every command answered
    # Exactly the commands answered "recorded" are in the store, each once.
    assert all(recorded_keys[a["key"]] == 1 for a in recorded_answers)
    answered_keys = {a["key"] for a in recorded_answers}
    assert {k for k in recorded_keys if k and k[0] in "cpf"} == answered_keys
    assert all(recorded_keys[a["key"]] == 0 for a in conflicts)  # reported, not recorded
    for n, iid in enumerate(ids):
        mine = [e for e in events if e.originator_id == iid]
        kinds = [type(e) for e in mine]
        cancel_answers = Counter(
            a["outcome"] for a in answers if a["intercept"] == n and a["kind"] == "cancel"
        )
        assert cancels[str(iid)] == cancel_answers["recorded"] <= 1
        if n >= INTERCEPTS // 2:  # nothing but cancels could close it
            assert cancels[str(iid)] == 1 or cancel_answers["refused:concurrent_modification"]
        if Cancelled in kinds and CarrierConfirmed in kinds:
            assert kinds.index(Cancelled) < kinds.index(CarrierConfirmed)
            row = engine.db.read(
                "SELECT status, conflict FROM intercepts WHERE intercept_id = ?", (str(iid),)
            )[0]
            assert row == {"status": "cancelled", "conflict": "intercepted_after_cancel"}
        fees = sum(e.amount_minor for e in mine if isinstance(e, FeeCharged))
        assert (
            engine.db.read("SELECT fees_minor FROM intercepts WHERE intercept_id = ?", (str(iid),))[
                0
            ]["fees_minor"]
            == fees
        )
    assert tables(engine.db) == reference_tables(store_settings, tmp_path)
    if max_retries == 8:
        assert races_lost > 0 and not conflicts  # real races, all decided again and recorded
    else:
        assert len(conflicts) == races_lost  # no second chance: each lost race is reported


def test_a_command_that_keeps_losing_races_is_reported_and_records_nothing(engine, tmp_path):
    engine.execute(b.policy())
    iid = engine.execute(b.request()).state.id
    before = engine.app.recorder.max_notification_id()
    attempts = []

    def always_beaten(events):
        attempts.append(len(events))
        raise IntegrityError("another writer recorded this version first")

    engine.app.record = always_beaten
    with pytest.raises(ConcurrencyConflict, match="lost 8 races") as refusal:
        engine.execute(b.cancel(iid))
    assert refusal.value.rule == "concurrent_modification"
    assert len(attempts) == engine.settings.max_retries == 8
    assert engine.app.recorder.max_notification_id() == before
