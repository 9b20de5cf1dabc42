"""The carrier gateway: sends each new request, and each cancel of an accepted one, to its carrier.

It follows the event store's log (in Kafka mode too: it records the carriers' answers
there, so it reads where it writes) and keeps its position and each intercept's
dispatch in its own tables (engine/store/outbound.py), a batch's facts and the position
after it in one transaction. Sending is at least once, and exactly once in effect: the
carrier request id is uuid5 of the intercept and the action (domain.ids), so a resend
after a crash is the same request to the carrier, and each answer is recorded as a
command under a key derived from that id, so recording it again records nothing.

Timeouts, connection errors and 5xx are tried again with exponential backoff and
jitter (`Backoff`, built from the `carrier_retry_*` settings); a definite answer (a
rejection, refused credentials) never is. After `Backoff.attempts` tries, or
`Backoff.within` seconds, the gateway records `CarrierUnreachable`, which flags the
intercept for the merchant.
"""

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import httpx

from carriers.protocol import (
    Adapter,
    Answer,
    Connection,
    Outbound,
    ProtocolError,
    Quote,
    Reply,
    Unreachable,
)
from domain.commands import Command
from domain.decision import Decision
from domain.eligibility import admit_stage
from domain.errors import DomainError
from domain.event import Event
from domain.events import Cancelled, Requested
from domain.ids import carrier_request_id
from domain.vocabulary import DispatchState, ParcelStage
from engine import carrier_reports
from engine.loops import run_loop
from engine.store.outbound import CancelSeen, Dispatch, OutboundStore, PositionMoved
from engine.store.outbound import Requested as RequestSeen

log = logging.getLogger("intercept.carriers")

ACTOR = "carrier-gateway"
FEED_TOPICS = (Requested.event_type(), Cancelled.event_type())


@dataclass(frozen=True)
class Backoff:
    """When to try a carrier again: `first` seconds, doubling up to `cap`, each delay
    drawn in its upper half (equal jitter) so many intercepts do not retry in step. The
    defaults are the settings' (engine/settings.py `carrier_retry_*`)."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 60.0
    attempts: int = 8
    """Tries before the intercept is recorded unreachable."""
    within: float = 600.0
    """Seconds after the first try after which it is recorded unreachable anyway."""

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The wait after the `attempt`-th failed try (1-based)."""
        base = min(self.cap, self.first * self.factor ** (attempt - 1))
        return base / 2 + rng.random() * base / 2

    def gives_up(self, attempts: int, first_try_ms: int, now_ms: int) -> bool:
        return attempts >= self.attempts or now_ms - first_try_ms >= self.within * 1000


@dataclass(frozen=True)
class Link:
    """A connected carrier: the protocol it speaks and where to reach it."""

    adapter: Adapter
    connection: Connection


class Writer(Protocol):
    """What the gateway needs of the engine: the log to follow and commands to record."""

    def execute(self, command: Command) -> Decision: ...

    def read_log_of(
        self, after: int, limit: int, topics: Sequence[str]
    ) -> Sequence[tuple[int, Event]]: ...


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class CarrierGateway:
    def __init__(
        self,
        writer: Writer,
        store: OutboundStore,
        links: Mapping[str, Link],
        clock: Callable[[], datetime],
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
        client: httpx.Client | None = None,
        batch: int = 500,
    ) -> None:
        self.writer = writer
        self.store = store
        self.links = dict(links)
        self.clock = clock
        self.backoff = backoff
        self.rng = rng or random.Random()
        self.client = client or httpx.Client()
        self.batch = batch

    # ---- following the feed ------------------------------------------------

    def follow(self) -> int:
        """Absorb what the log holds after the stored position; returns events read."""
        read = 0
        while True:
            after = self.store.position()
            entries = self.writer.read_log_of(after, self.batch, FEED_TOPICS)
            if not entries:
                return read
            try:
                self.store.absorb(
                    [f for _, e in entries if (f := fact_of(e)) is not None],
                    after,
                    entries[-1][0],
                    _ms(self.clock()),
                )
            except PositionMoved:
                continue  # another gateway absorbed it: read on from where it got
            read += len(entries)
            if len(entries) < self.batch:
                return read

    # ---- dispatching ---------------------------------------------------------

    def dispatch(self) -> int:
        """Try everything due once; returns how many dispatches were tried."""
        tried = 0
        for dispatch in self.store.due(_ms(self.clock()), self.batch):
            self.send(dispatch)
            tried += 1
        return tried

    def step(self) -> int:
        return self.follow() + self.dispatch()

    def run(self, stop: threading.Event, idle: float = 0.2, leadership: Any = None) -> None:
        """Follow and dispatch until stopped; with a `leadership` (engine/leader.py), only
        while this process holds the gateway's lock, so two gateways never both send."""
        step = self.step if leadership is None else leadership.guard(self.step)
        try:
            run_loop([step], stop, idle, what="carrier gateway")
        finally:
            if leadership is not None:
                leadership.release()

    def send(self, d: Dispatch) -> None:
        link = self.links.get(d.carrier or "")
        if link is None:
            # No connection configured: nothing is sent, manual reports go on as ever.
            self.store.settle(
                d.intercept_id, request_state=DispatchState.NOT_CONNECTED.value, **_no_cancel(d)
            )
            return
        if d.action == "request" and d.cancel_seen and d.first_attempt_ms is None:
            # Cancelled before it ever left: the carrier never needs to hear of it.
            self.store.settle(
                d.intercept_id,
                request_state=DispatchState.WITHDRAWN.value,
                cancel_state="not_needed",
            )
            return
        if d.first_attempt_ms is None:
            # Marked before the call: killed during it, the request may have reached the
            # carrier, so a cancel seen after a restart is sent, never withdrawn.
            d = replace(d, first_attempt_ms=_ms(self.clock()))
            self.store.settle(d.intercept_id, first_attempt_ms=d.first_attempt_ms)
        outbound = self.outbound(d)
        try:
            if d.action == "request":
                answer = link.adapter.request(self.client, link.connection, outbound)
            else:
                answer = link.adapter.cancel(self.client, link.connection, outbound)
        except Unreachable as error:
            self._retry_or_give_up(d, outbound, str(error))
            return
        except ProtocolError as error:
            # A definite answer that is no answer: sending it again would be answered so.
            self._give_up(d, outbound, d.attempts + 1, f"refused by the carrier: {error}")
            return
        self._record(d, outbound, answer)

    def outbound(self, d: Dispatch) -> Outbound:
        request = d.request or {}
        return Outbound(
            request_id=carrier_request_id(UUID(d.intercept_id), d.action),
            intercept_id=UUID(d.intercept_id),
            carrier=d.carrier or "",
            tracking_no=d.tracking_no or "",
            action=request.get("action", "return_to_sender"),
            reason=request.get("reason", ""),
            recipient=request.get("recipient"),
            carrier_ref=d.carrier_ref,
        )

    def _record(self, d: Dispatch, outbound: Outbound, answer: Answer) -> None:
        command = carrier_reports.from_answer(
            UUID(d.intercept_id),
            d.carrier or "",
            d.action,
            outbound.request_id,
            answer,
            actor=ACTOR,
            now=self.clock(),
        )
        self._execute(command)
        now = _ms(self.clock())
        if d.action == "request" and answer.report == "accepted":
            self.store.settle(
                d.intercept_id,
                request_state=DispatchState.ACCEPTED.value,
                carrier_ref=answer.carrier_ref,
                attempts=0,
                first_attempt_ms=None,  # the cancel, if one comes, counts its own tries
                next_attempt_ms=now,
                last_error=None,
            )
        elif d.action == "request":
            self.store.settle(
                d.intercept_id,
                request_state=DispatchState.REJECTED.value,
                last_error=answer.message,
                **_no_cancel(d),
            )
        else:
            self.store.settle(d.intercept_id, cancel_state="done", last_error=None)

    def _retry_or_give_up(self, d: Dispatch, outbound: Outbound, error: str) -> None:
        now = _ms(self.clock())
        attempts = d.attempts + 1
        first = d.first_attempt_ms if d.first_attempt_ms is not None else now
        if self.backoff.gives_up(attempts, first, now):
            self._give_up(d, outbound, attempts, error)
            return
        wait = self.backoff.delay(attempts, self.rng)
        log.info(
            "carrier %s %s for %s: %s; try %d again in %.1fs",
            d.carrier,
            d.action,
            d.intercept_id,
            error,
            attempts + 1,
            wait,
        )
        self.store.settle(
            d.intercept_id,
            attempts=attempts,
            first_attempt_ms=first,
            next_attempt_ms=now + int(wait * 1000),
            last_error=error,
        )

    def _give_up(self, d: Dispatch, outbound: Outbound, attempts: int, error: str) -> None:
        log.warning(
            "carrier %s unreachable for %s after %d tries: %s",
            d.carrier,
            d.intercept_id,
            attempts,
            error,
        )
        self._execute(
            carrier_reports.unreachable(
                UUID(d.intercept_id), outbound.request_id, attempts, error, ACTOR, self.clock()
            )
        )
        if d.action == "request":
            self.store.settle(
                d.intercept_id,
                request_state=DispatchState.UNREACHABLE.value,
                attempts=attempts,
                last_error=error,
                **_no_cancel(d),
            )
        else:
            self.store.settle(
                d.intercept_id, cancel_state="unreachable", attempts=attempts, last_error=error
            )

    def _execute(self, command: Command) -> None:
        try:
            self.writer.execute(command)
        except DomainError as refusal:
            # The intercept moved on meanwhile (a callback got there first): nothing to add.
            log.info("carrier report not recorded: %s [%s]", refusal.message, refusal.rule)

    # ---- asking without acting ---------------------------------------------------

    def quote(self, carrier: str, tracking_no: str, action: str) -> Quote | None:
        """The carrier's eligibility answer and fee; None when it is not connected."""
        link = self.links.get(carrier)
        if link is None:
            return None
        return link.adapter.quote(self.client, link.connection, carrier, tracking_no, action)

    def close(self) -> None:
        self.client.close()


def _no_cancel(d: Dispatch) -> dict[str, Any]:
    return {"cancel_state": "not_needed"} if d.cancel_state == "pending" else {}


def fact_of(event: Event) -> RequestSeen | CancelSeen | None:
    """What one feed event asks of the gateway."""
    if isinstance(event, Requested):
        return RequestSeen(
            intercept_id=str(event.originator_id),
            carrier=str(event.carrier),
            tracking_no=event.tracking_no,
            merchant_id=event.merchant_id,
            request=carrier_reports.request_fields(event),
        )
    if isinstance(event, Cancelled):
        return CancelSeen(intercept_id=str(event.originator_id))
    return None


class UnknownCarrier(LookupError):
    """No carrier with that code has a connection, so no callback of it can be verified."""


class UnknownParcel(LookupError):
    """A callback naming no intercept this engine has for that carrier; nothing was recorded."""


class CarrierDesk:
    """What the front doors ask of connected carriers: eligibility, and their callbacks.

    Callbacks are verified by the carrier's own protocol and matched to an intercept.

    A callback names its parcel the way carriers do: by waybill (found through the parcel
    registry), by the carrier's task number (found in the gateway's dispatches), or by the
    engine's own intercept id (the generic protocol).
    """

    def __init__(
        self,
        links: Mapping[str, Link],
        parcel_intercepts: Callable[[str, str], Sequence[UUID]],
        store: OutboundStore,
    ) -> None:
        self.links = dict(links)
        self.parcel_intercepts = parcel_intercepts
        self.store = store
        self._lock = threading.Lock()
        self.client = httpx.Client()

    def link(self, code: str) -> Link:
        link = self.links.get(code.upper())
        if link is None:
            raise UnknownCarrier(f"carrier {code} has no connection configured")
        return link

    def commands(
        self, code: str, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> list[Command | None]:
        """One command per report the callback carries; a report naming no intercept this
        engine knows is None. `BadCallback` (nothing runs) when it does not verify."""
        link = self.link(code)
        reports = link.adapter.parse_callback(link.connection, headers, body, now)
        found: list[Command | None] = []
        for report in reports:
            iid = self.find(
                code.upper(), report.intercept_id, report.tracking_no, report.carrier_ref
            )
            if iid is None:
                found.append(None)
                continue
            found.append(
                carrier_reports.from_callback(
                    iid, code.upper(), report, f"{code.lower()}-callback", now
                )
            )
        return found

    def receive(
        self,
        code: str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
        execute: Callable[[Command], Any],
    ) -> Reply:
        """Verify a callback, record each report it carries, and say what to answer.

        Raises `BadCallback` (bad or missing signature), `UnknownCarrier` or `UnknownParcel`
        before anything is recorded.
        """
        link = self.link(code)
        commands = self.commands(code, headers, body, now)
        if any(c is None for c in commands):
            raise UnknownParcel(f"the callback names no intercept carrier {code} has here")
        for command in commands:
            execute(command)  # type: ignore[arg-type]
        return link.adapter.acknowledge()

    def find(
        self, carrier: str, intercept_id: UUID | None, tracking_no: str | None, ref: str | None
    ) -> UUID | None:
        if intercept_id is not None:
            return intercept_id
        if ref:  # the task number names the very request it was given for
            with self._lock:
                found = self.store.by_ref(carrier, ref)
            if found:
                return UUID(found)
        if tracking_no:
            ids = self.parcel_intercepts(carrier, tracking_no)
            if ids:
                return ids[-1]  # the parcel's latest intercept: at most one is open
        return None

    def eligibility(self, carrier: str, tracking_no: str, action: str) -> "Eligibility":
        """Ask the carrier whether the parcel can be intercepted now, at what stage and fee;
        the domain's stage rules (domain/eligibility.py) then say what the engine would do."""
        link = self.links.get(carrier)
        if link is None:
            return Eligibility(carrier, tracking_no, action, connected=False)
        quote = link.adapter.quote(self.client, link.connection, carrier, tracking_no, action)
        return judged(carrier, tracking_no, action, quote)

    def close(self) -> None:
        self.client.close()
        self.store.db.close()


@dataclass(frozen=True)
class Eligibility:
    carrier: str
    tracking_no: str
    action: str
    connected: bool
    stage: str = "unknown"
    allowed: bool | None = None
    """None when nobody could be asked (the carrier has no connection)."""
    rule: str | None = None
    message: str | None = None
    code: str | None = None
    fee_minor: int | None = None
    flags: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "tracking_no": self.tracking_no,
            "action": self.action,
            "connected": self.connected,
            "stage": self.stage,
            "allowed": self.allowed,
            "rule": self.rule,
            "rejection_code": self.code,
            "message": self.message
            or (None if self.connected else f"carrier {self.carrier} is not connected: ask it"),
            "quoted_fee_minor": self.fee_minor,
            "flags": list(self.flags),
        }


def judged(carrier: str, tracking_no: str, action: str, quote: Quote) -> Eligibility:
    """A carrier's quote, with the domain's rule for the stage it reports."""
    stage = ParcelStage(quote.stage) if quote.stage in set(ParcelStage) else ParcelStage.UNKNOWN
    base = Eligibility(carrier, tracking_no, action, True, stage.value, code=quote.code)
    try:
        flags = admit_stage(stage, parcel=f"{carrier} {tracking_no}")
    except DomainError as refusal:
        return replace(base, allowed=False, rule=refusal.rule, message=refusal.message)
    if not quote.allowed:
        return replace(
            base,
            allowed=False,
            rule="carrier_accepts",
            message=f"the carrier would refuse it: {quote.code or 'no reason given'}",
        )
    return replace(
        base, allowed=True, fee_minor=quote.fee_minor, flags=tuple(sorted(f.value for f in flags))
    )
