"""The merchant's automation: the automatic intercept rule and the policy deadlines.

`AutoRule` is a process manager over the event store's log. For each after-sale report
it runs `ApplyAutoRule`, whose decision (the intercept it requests, or the rule that
stopped it) is recorded on the after-sale with the intercept's own events, and with the
rule's position (`tracking=`), all in one transaction. The after-sale's
`decided_version` makes a report seen again (a crash before the position moved, a
replay from position 0) decide nothing: replaying history never issues a command.

`Deadlines` follows the log into an index of when each request's policy deadlines fall
due (engine/store/deadlines.py); its live tick reads the clock, checks only the rows
that are due, and records `InterceptStalled` once per deadline. Replay reads the facts
it recorded and never the clock.
"""

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain import policy as policies
from domain.after_sale import AUTO_ACTOR, AfterSaleReported
from domain.commands import ApplyAutoRule, MarkStalled
from domain.errors import DomainError
from domain.events import Requested
from domain.policy import PolicySet
from engine.loops import built_when_possible, run_loop
from engine.store.deadlines import DeadlineWatch, Due, Limits
from engine.store.deadlines import Requested as WatchedRequest
from engine.store.positions import ProcessPositions

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


_WATCHED = (Requested.event_type(), PolicySet.event_type())


class Deadlines:
    """Records `InterceptStalled` for intercepts past their policy's deadlines.

    `follow` keeps the deadline watch (engine/store/deadlines.py) up with the log: when
    each request's deadlines fall due under its merchant's policy, read from the log, not
    the clock. `run_once` follows, then reads the clock and checks only the rows that
    are due, each once."""

    def __init__(
        self, engine: Any, watch: DeadlineWatch, clock: Clock, limit: int = 1000, batch: int = 500
    ) -> None:
        self.engine, self.watch, self.clock = engine, watch, clock
        self.limit, self.batch = limit, batch
        self.recorded: Counter[str] = Counter()
        """The deadlines this process recorded, by deadline."""

    def follow(self) -> int:
        read = 0
        while True:
            after = self.watch.position()
            entries = self.engine.app.event_log.read_log_of(after, self.batch, _WATCHED)
            if not entries:
                return read
            self.watch.absorb([_fact(e) for _, e in entries], entries[-1][0])
            read += len(entries)
            if len(entries) < self.batch:
                return read

    def run_once(self) -> int:
        self.follow()
        now = self.clock()
        recorded = 0
        for due in self.watch.due(now, self.limit):
            recorded += self._stall(due, now)
        return recorded

    def _stall(self, due: Due, now: datetime) -> int:
        command = MarkStalled(
            intercept_id=UUID(due.intercept_id),
            deadline=due.deadline,
            limit_minutes=due.minutes,
            actor=DEADLINE_ACTOR,
            occurred_at=now,
        )
        try:
            recorded = 1 if self.engine.execute(command).events else 0
            self.recorded[due.deadline.value] += recorded
        except DomainError as refusal:  # the intercept is gone its own way: nothing owed
            log.info("deadline %s on %s not recorded: %s", due.deadline, due.intercept_id, refusal)
            recorded = 0
        # Stalled now, or the carrier answered in time (the decision recorded nothing):
        # either way this deadline is settled. A failure above leaves the row for next time.
        self.watch.checked(due.intercept_id, due.deadline)
        return recorded


def _fact(event: Any) -> WatchedRequest | Limits:
    if isinstance(event, PolicySet):
        return Limits(event.merchant_id, policies.deadline_minutes(event))
    return WatchedRequest(str(event.originator_id), event.merchant_id, event.occurred_at)


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
            run_loop(self.steps, stop, idle_wait, what="automation step")
        finally:
            for leadership in self.leaderships:
                leadership.release()


def background_worker(make_loop: Callable[[], Loop]) -> Callable[[threading.Event], None]:
    """The automation loop as a worker of `intercept serve` (embedded mode), run until stopped."""

    def work(stop: threading.Event) -> None:
        # Built on the worker's thread: the server listens without waiting for a second engine.
        loop = built_when_possible("the automation loop", make_loop, stop)
        if loop is not None:
            loop.run(stop)

    return work
