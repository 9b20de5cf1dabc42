"""The followers' loops go on through failures, and say so in one line each."""

import logging
import threading

from engine import loops


def test_a_follower_that_cannot_start_tries_again_until_it_can(monkeypatch, caplog):
    monkeypatch.setattr(loops, "RETRY_SECONDS", 0.01)
    attempts: list[int] = []

    def build() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError("the event store is locked")
        return "built"

    with caplog.at_level(logging.WARNING, logger="intercept.loops"):
        assert loops.built_when_possible("the gateway", build, threading.Event()) == "built"
    assert len(attempts) == 3
    assert [r.getMessage() for r in caplog.records] == [
        "the gateway could not start (TimeoutError: the event store is locked); trying again"
    ] * 2
    assert not any(r.exc_info for r in caplog.records)  # no traceback in the logs


def test_a_stopped_follower_is_not_built():
    stop = threading.Event()
    stop.set()
    assert loops.built_when_possible("the gateway", lambda: "built", stop) is None


def test_a_failing_step_is_logged_and_run_again(monkeypatch, caplog):
    monkeypatch.setattr(loops, "RETRY_SECONDS", 0.01)
    stop = threading.Event()
    runs: list[int] = []

    def step() -> int:
        runs.append(1)
        if len(runs) == 1:
            raise OSError("connection lost")
        stop.set()
        return 1

    with caplog.at_level(logging.WARNING, logger="intercept.loops"):
        loops.run_loop([step], stop, idle_wait=0.01, what="carrier gateway")
    assert len(runs) == 2
    (record,) = caplog.records
    assert (
        "carrier gateway" in record.getMessage()
        and "OSError: connection lost" in record.getMessage()
    )
    assert record.exc_info is None
