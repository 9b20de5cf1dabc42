"""The followers' loops: run steps until stopped, through a locked database or a lost one.

Every follower of the log (the automation, the carrier gateway) keeps its position in the
transaction of its effects, so a step that fails moved nothing: it is tried again, not lost
and not done twice. What fails is logged in one line; tracebacks never reach the logs.
"""

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger("intercept.loops")

T = TypeVar("T")

RETRY_SECONDS = 1.0
"""How long a follower waits after a failure before trying again."""


def _said(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def run_loop(
    steps: list[Callable[[], int]],
    stop: threading.Event,
    idle_wait: float = 0.2,
    what: str = "step",
) -> None:
    """Run each step in turn until stopped; wait a little only when none had work.

    A step that fails (a locked database, a lost connection) is logged and tried again a
    second later: its position did not move, so nothing is lost or done twice."""
    while not stop.is_set():
        busy = 0
        for step in steps:
            try:
                busy += step()
            except Exception as error:  # noqa: BLE001 - logged; the step resumes from its position
                log.warning("%s %s failed (%s); trying again", what, _name(step), _said(error))
                stop.wait(RETRY_SECONDS)
        if not busy:
            stop.wait(idle_wait)


def built_when_possible(what: str, build: Callable[[], T], stop: threading.Event) -> T | None:
    """`build()` once it succeeds (a database locked at start-up is waited out), or None
    when stopped first."""
    while not stop.is_set():
        try:
            return build()
        except Exception as error:  # noqa: BLE001 - logged; tried again until stopped
            log.warning("%s could not start (%s); trying again", what, _said(error))
            stop.wait(RETRY_SECONDS)
    return None


def _name(step: Callable[[], int]) -> str:
    return getattr(step, "__qualname__", None) or type(step).__name__
