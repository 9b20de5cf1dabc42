"""The merchant's automation: the automatic intercept rule and the policy deadlines.

`AutoRule` is a process manager over the event store's log. For each after-sale report
it runs `ApplyAutoRule`, whose decision (the intercept it requests, or the rule that
stopped it) is recorded on the after-sale with the intercept's own events, and with the
rule's position (`tracking=`), all in one transaction. The after-sale's
`decided_version` makes a report seen again (a crash before the position moved, a
replay from position 0) decide nothing: replaying history never issues a command.

`Deadlines` is a live process: it reads the clock, finds open intercepts whose policy
deadline passed, and records `InterceptStalled` once per deadline. Replay reads the
facts it recorded and never the clock.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from domain.after_sale import AUTO_ACTOR, AfterSaleReported
from domain.commands import ApplyAutoRule, MarkStalled
from domain.errors import DomainError
from domain.policy import InterceptPolicy
from domain.vocabulary import Deadline
from engine.store.positions import ProcessPositions
from projections.timefmt import stamp

log = logging.getLogger(__name__)

AUTO_RULE = "auto-rule"
"""The automatic rule's name in `process_positions`."""
DEADLINE_ACTOR = "deadline"
_REPORTS = (AfterSaleReported.event_type(),)

Clock = Callable[[], datetime]


class AutoRule:
    def __init__(self, app: Any, positions: ProcessPositions, clock: Clock, batch: int = 200):
        self.app, self.positions, self.clock, self.batch = app, positions, clock, batch

    def run_once(self) -> int:
        """Decide the reports recorded after the rule's position; how many were read."""
        after = self.positions.get(AUTO_RULE)
        reports = self.app.event_log.read_log_of(after, self.batch, _REPORTS)
        for position, report in reports:
            command = ApplyAutoRule(
                merchant_id=report.merchant_id,
                after_sale_id=report.after_sale_id,
                actor=AUTO_ACTOR,
                occurred_at=self.clock(),
            )
            decision = self.app.execute_tracked(command, (AUTO_RULE, position))
            if not decision.events:
                # Already decided (a replay, or a later report's turn covered it): nothing
                # was recorded, so only the position moves.
                self.positions.set(AUTO_RULE, position)
        return len(reports)

    def run_until_idle(self) -> int:
        total = 0
        while (read := self.run_once()) > 0:
            total += read
            if read < self.batch:
                break
        return total


_OPEN_ROWS = (
    "SELECT intercept_id, merchant_id, status, requested_at, accepted_at, flags "
    "FROM intercepts WHERE status IN ('requested', 'accepted') AND requested_at <= ? "
    "ORDER BY requested_at LIMIT ?"
)


class Deadlines:
    """Records `InterceptStalled` for open intercepts past their policy's deadlines."""

    def __init__(self, engine: Any, clock: Clock, limit: int = 1000) -> None:
        self.engine, self.clock, self.limit = engine, clock, limit

    def run_once(self) -> int:
        now = self.clock()
        policies: dict[str, InterceptPolicy | None] = {}
        # The shortest deadline any policy may set is a minute: nothing younger is due.
        rows = self.engine.read(
            lambda db: db.read(_OPEN_ROWS, (stamp(now - timedelta(minutes=1)), self.limit))
        )
        recorded = 0
        for row in rows:
            merchant = row["merchant_id"]
            if merchant not in policies:
                policies[merchant] = self.engine.policy(merchant)
            policy = policies[merchant]
            if policy is None:
                continue
            requested_at = datetime.fromisoformat(row["requested_at"].replace("Z", "+00:00"))
            for deadline, minutes in policy.deadlines().items():
                if requested_at + timedelta(minutes=minutes) > now:
                    continue
                if deadline is Deadline.ACCEPTANCE and row["status"] != "requested":
                    continue
                recorded += self._stall(row["intercept_id"], deadline, minutes, now)
        return recorded

    def _stall(self, intercept_id: str, deadline: Deadline, minutes: int, now: datetime) -> int:
        from uuid import UUID

        command = MarkStalled(
            intercept_id=UUID(intercept_id),
            deadline=deadline,
            limit_minutes=minutes,
            actor=DEADLINE_ACTOR,
            occurred_at=now,
        )
        try:
            return 1 if self.engine.execute(command).events else 0
        except DomainError as refusal:  # the intercept moved meanwhile: next round sees it
            log.info("deadline %s on %s not recorded: %s", deadline, intercept_id, refusal)
            return 0


def run_loop(steps: list[Callable[[], int]], stop: threading.Event, idle_wait: float = 0.2) -> None:
    """Run each step in turn until stopped; wait a little only when none had work.

    A step that fails (a locked database, a lost connection) is logged and tried again a
    second later: its position did not move, so nothing is lost or done twice."""
    while not stop.is_set():
        busy = 0
        for step in steps:
            try:
                busy += step()
            except Exception:  # noqa: BLE001 - logged; the step resumes from its position
                log.exception("automation step %s failed; trying again", _name(step))
                stop.wait(1.0)
        if not busy:
            stop.wait(idle_wait)


def _name(step: Callable[[], int]) -> str:
    return getattr(step, "__qualname__", None) or type(step).__name__


@dataclass
class Loop:
    """The automation's steps, and the leaderships (engine/leader.py) some of them run under."""

    steps: list[Callable[[], int]] = field(default_factory=list)
    leaderships: list[Any] = field(default_factory=list)

    def led(self, leadership: Any) -> Any:
        self.leaderships.append(leadership)
        return leadership

    def run(self, stop: threading.Event, idle_wait: float = 0.2) -> None:
        """Run until stopped, then give up the locks: a standby takes over at once."""
        try:
            run_loop(self.steps, stop, idle_wait)
        finally:
            for leadership in self.leaderships:
                leadership.release()


def background_worker(make_loop: Callable[[], Loop]) -> Callable[[threading.Event], None]:
    """The automation loop as a worker of `intercept serve` (embedded mode), run until stopped."""

    def work(stop: threading.Event) -> None:
        # Built on the worker's thread: the server listens without waiting for a second engine.
        try:
            loop = make_loop()
        except Exception:  # noqa: BLE001 - the API serves on; the loop is what is lost
            log.exception("the automation loop could not start")
            return
        loop.run(stop)

    return work
